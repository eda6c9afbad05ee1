/**
 * The pure pieces of node/smtp on their own: line-ending checks fed whole and
 * split at every byte, envelope address parsing, header field removal, SRS,
 * DNSBL names, DSN status codes and NOTIFY handling, and the DNS cache.
 */
import { describe, expect, it } from 'vitest';
import { LineEndingCheck, MAIL_PARAMS, parseEnvelopeAddress, unknownParam } from '../../node/smtp/address.js';
import { cachingResolver, dnsblListings, dnsblName, resolverFor, type Resolver } from '../../node/smtp/dns.js';
import { startTestDns } from '../helpers/dns-server.js';
import { SmtpError } from '../../node/smtp/errors.js';
import { headerValues, withoutFields } from '../../node/smtp/headers.js';
import { buildDsn, statusOf } from '../../node/smtp/outbound/dsn.js';
import { wantsNotice } from '../../node/smtp/outbound/notice.js';
import { Srs } from '../../node/smtp/srs.js';

function checkSplits(input: string): boolean[] {
  const buf = Buffer.from(input, 'latin1');
  const out: boolean[] = [];
  const whole = new LineEndingCheck();
  whole.push(buf);
  out.push(whole.end());
  for (let i = 1; i < buf.length; i++) {
    const c = new LineEndingCheck();
    c.push(buf.subarray(0, i));
    c.push(buf.subarray(i));
    out.push(c.end());
  }
  const bytewise = new LineEndingCheck();
  for (const b of buf) bytewise.push(Buffer.from([b]));
  out.push(bytewise.end());
  return out;
}

describe('LineEndingCheck', () => {
  it.each([
    ['CRLF only', 'a\r\nb\r\n\r\nc\r\n', true],
    ['no line ends at all', 'abc', true],
    ['bare LF', 'a\r\nb\nc\r\n', false],
    ['bare CR', 'a\rb\r\n', false],
    ['CR CR LF', 'a\r\r\n', false],
    ['LF CR', 'a\n\r', false],
    ['dangling CR at the end', 'a\r\nb\r', false],
    ['\\n.\\n smuggling', 'x\r\n\n.\n', false],
    ['\\r.\\r smuggling', 'x\r\n\r.\r', false],
  ])('%s: the same verdict however the input is split', (_name, input, ok) => {
    const verdicts = checkSplits(input as string);
    expect(new Set(verdicts)).toEqual(new Set([ok]));
  });
});

describe('parseEnvelopeAddress', () => {
  it('accepts plain addresses and lower-cases the domain only', () => {
    expect(parseEnvelopeAddress('Alice.B+tag@Example.TEST')).toEqual({ local: 'Alice.B+tag', domain: 'example.test', address: 'Alice.B+tag@example.test' });
  });

  it('turns an IDN domain into its A-label', () => {
    const r = parseEnvelopeAddress('user@bücher.test');
    expect(r).toMatchObject({ domain: 'xn--bcher-kva.test' });
  });

  it('refuses UTF-8 local parts unless SMTPUTF8 was given', () => {
    expect(parseEnvelopeAddress('jürgen@example.test')).toBeInstanceOf(SmtpError);
    expect(parseEnvelopeAddress('jürgen@example.test', { utf8: true })).toMatchObject({ local: 'jürgen' });
  });

  it.each(['a%b@example.test', 'b!a@example.test', '@x:a@example.test', '"a"@example.test', 'a@example.test.', 'a@b@example.test', 'a@[127.0.0.1]'])(
    'answers %s as a relay attempt (5.7.1)',
    (addr) => {
      expect(parseEnvelopeAddress(addr)).toMatchObject({ code: 550, enhanced: '5.7.1' });
    },
  );

  it.each(['', 'a@b', 'a..b@example.test', '.a@example.test', `${'x'.repeat(65)}@example.test`, 'a@-x.test', 'a@1.2.3.4'])('refuses %j as bad syntax (5.1.3)', (addr) => {
    expect(parseEnvelopeAddress(addr)).toMatchObject({ code: 553, enhanced: '5.1.3' });
  });
});

describe('unknownParam', () => {
  it('passes known parameters in any case and names the first unknown one', () => {
    expect(unknownParam({ size: '10', BODY: '8BITMIME' }, MAIL_PARAMS)).toBeNull();
    expect(unknownParam(false, MAIL_PARAMS)).toBeNull();
    expect(unknownParam({ SIZE: '1', 'X-EVIL\r\n': '1' }, MAIL_PARAMS)).toMatchObject({ code: 555, message: expect.stringMatching(/^5\.5\.4 parameter X-EVIL not recognised/) });
  });
});

describe('withoutFields', () => {
  const raw = Buffer.from('A: 1\r\nB: two\r\n  folded\r\nb: 3\r\nC: 4\r\n\r\nB: not a header\r\n', 'latin1');

  it('drops whole fields, folded lines included, and leaves the body alone', () => {
    const out = withoutFields(raw, (name) => name === 'b');
    expect(out.toString('latin1')).toBe('A: 1\r\nC: 4\r\n\r\nB: not a header\r\n');
  });

  it('sees unfolded values and returns the same buffer when nothing matched', () => {
    const seen: string[] = [];
    expect(withoutFields(raw, (name, value) => (seen.push(`${name}=${value}`), false))).toBe(raw);
    expect(seen).toEqual(['a=1', 'b=two folded', 'b=3', 'c=4']);
  });

  it('keeps 8-bit bytes as they were', () => {
    const bin = Buffer.from([...Buffer.from('X: \xff\xfe\r\nY: z\r\n\r\n', 'latin1'), 0xc3, 0xa9]);
    const out = withoutFields(bin, (name) => name === 'y');
    expect([...out]).toEqual([...Buffer.from('X: \xff\xfe\r\n\r\n', 'latin1'), 0xc3, 0xa9]);
    expect(headerValues(out, 'x')).toHaveLength(1);
  });
});

describe('Srs', () => {
  const srs = new Srs(Buffer.alloc(32, 7));
  const day = 86_400_000;
  const now = 1_800_000_000_000;

  it('round-trips, also when a remote MTA lower-cases the address', () => {
    const a = srs.forward('Someone@Sender.test', 'example.test', now);
    expect(a).toMatch(/^SRS0=[^=]{4}=[A-Z2-7]{2}=Sender\.test=Someone@example\.test$/);
    expect(srs.reverse(a, now)).toBe('Someone@Sender.test');
    expect(srs.reverse(a.toLowerCase(), now + day)).toBe('someone@sender.test');
  });

  it('refuses a tampered hash, another key, and an expired stamp', () => {
    const a = srs.forward('someone@sender.test', 'example.test', now);
    expect(srs.reverse(a.replace('=sender.test=', '=evil.test='), now)).toBeNull();
    expect(new Srs(Buffer.alloc(32, 8)).reverse(a, now)).toBeNull();
    expect(srs.reverse(a, now + 21 * day)).toBe('someone@sender.test');
    expect(srs.reverse(a, now + 22 * day)).toBeNull();
  });

  it('leaves null senders null', () => {
    expect(srs.forward('', 'example.test')).toBe('');
  });
});

describe('dnsblName', () => {
  it('reverses IPv4 octets and IPv6 nibbles (RFC 5782)', () => {
    expect(dnsblName('192.0.2.99', 'bl.test')).toBe('99.2.0.192.bl.test');
    expect(dnsblName('2001:db8::1', 'bl.test')).toBe(`1.0.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.bl.test`);
    expect(dnsblName('not-an-ip', 'bl.test')).toBeNull();
  });

  it('counts a listing, not a refused query (Spamhaus 127.255.255.x), against a real DNS server', async () => {
    const dns = await startTestDns();
    try {
      dns.add('2.0.0.192.listed.test', { A: ['127.0.0.2'] });
      dns.add('2.0.0.192.refusing.test', { A: ['127.255.255.254'] });
      const resolver = resolverFor([`127.0.0.1:${dns.port}`]);
      expect(await dnsblListings(resolver, '::ffff:192.0.0.2', ['listed.test', 'refusing.test', 'empty.test'])).toEqual(['listed.test']);
    } finally {
      await dns.close();
    }
  });
});

describe('DSN details', () => {
  it('takes the enhanced code from a reply, else one from its class or the action', () => {
    expect(statusOf('550 5.1.1 no such user', 'failed')).toBe('5.1.1');
    expect(statusOf('451 try later', 'delayed')).toBe('4.0.0');
    expect(statusOf('connection refused', 'failed')).toBe('5.0.0');
    expect(statusOf('delivered', 'delivered')).toBe('2.0.0');
  });

  it('reads NOTIFY as RFC 3461 says: FAILURE,DELAY by default, NEVER means never', () => {
    expect(wantsNotice(null, 'FAILURE')).toBe(true);
    expect(wantsNotice(null, 'DELAY')).toBe(true);
    expect(wantsNotice(null, 'SUCCESS')).toBe(false);
    expect(wantsNotice('success', 'SUCCESS')).toBe(true);
    expect(wantsNotice('SUCCESS', 'FAILURE')).toBe(false);
    expect(wantsNotice('NEVER', 'FAILURE')).toBe(false);
  });

  it('returns the full original on failure and only its headers on success', () => {
    const original = Buffer.from('Subject: hi\r\n\r\nsecret body\r\n');
    const base = { hostname: 'mx.test', to: 's@x.test', envid: null, ret: null, arrivalDate: 0, original, recipients: [{ rcpt: 'r@y.test', orcpt: null, diagnostic: '250 ok', remoteMta: null }] };
    expect(buildDsn({ ...base, action: 'failed' }).toString()).toContain('secret body');
    const ok = buildDsn({ ...base, action: 'delivered' }).toString();
    expect(ok).toContain('Content-Type: text/rfc822-headers');
    expect(ok).not.toContain('secret body');
    expect(ok).toContain('Action: delivered\r\nStatus: 2.0.0');
  });
});

describe('cachingResolver', () => {
  it('shares answers and in-flight lookups, keeps "no data" briefly, and never keeps failures', async () => {
    const calls: string[] = [];
    let fail = true;
    const inner: Resolver = async (name, type) => {
      calls.push(`${type} ${name}`);
      if (name === 'none.test') throw Object.assign(new Error('no data'), { code: 'ENODATA' });
      if (name === 'flaky.test' && fail) throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
      return [`answer for ${name}`];
    };
    const r = cachingResolver(inner, { ttlMs: 60_000, negativeTtlMs: 60_000 });
    await Promise.all([r('a.test', 'TXT'), r('A.TEST', 'TXT')]);
    await r('a.test', 'TXT');
    expect(calls.filter((c) => c === 'TXT a.test')).toHaveLength(1);
    await expect(r('none.test', 'TXT')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(r('none.test', 'TXT')).rejects.toMatchObject({ code: 'ENODATA' });
    expect(calls.filter((c) => c === 'TXT none.test')).toHaveLength(1);
    await expect(r('flaky.test', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    fail = false;
    await expect(r('flaky.test', 'TXT')).resolves.toEqual(['answer for flaky.test']);
    expect(calls.filter((c) => c === 'TXT flaky.test')).toHaveLength(2);
  });
});
