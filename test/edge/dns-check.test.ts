/**
 * The DNS liveness check against a real DNS-over-HTTPS server: records match
 * by meaning (1.1.1.1's presentation forms), differences are "missing", and a
 * resolver that fails is "could not check", not "missing".
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caaParts, createDohChecker, expandIpv6, matches, txtText } from '../../edge/dns-check.js';
import { deadPort, startDoh, type DohServer } from './harness.js';

let doh: DohServer;
beforeAll(async () => {
  doh = await startDoh();
});
afterAll(() => doh.close());

describe('matching DoH answers', () => {
  it('reads the presentation forms 1.1.1.1 returns', () => {
    expect(txtText('"v=DKIM1; k=rsa; p=AB" "CD"')).toBe('v=DKIM1; k=rsa; p=ABCD');
    expect(txtText('"say \\"hi\\""')).toBe('say "hi"');
    expect(expandIpv6('2001:db8::10')).toBe('2001:0db8:0000:0000:0000:0000:0000:0010');
    expect(caaParts('\\# 22 00 05 69 73 73 75 65 6c 65 74 73 65 6e 63 72 79 70 74 2e 6f 72 67')).toEqual([0, 'issue', 'letsencrypt.org']);
    expect(caaParts('0 issue "letsencrypt.org"')).toEqual([0, 'issue', 'letsencrypt.org']);
  });

  it('tells same from different', () => {
    const mx = { type: 'MX', name: 'example.org', value: 'mail.example.org', priority: 10 };
    expect(matches(mx, '10 MAIL.example.org.')).toBe(true);
    expect(matches(mx, '20 mail.example.org.')).toBe(false);
    expect(matches(mx, '10 mx.other.example.')).toBe(false);
    const srv = { type: 'SRV', name: '_imaps._tcp.example.org', value: '1 993 mail.example.org', priority: 0 };
    expect(matches(srv, '0 1 993 mail.example.org.')).toBe(true);
    expect(matches(srv, '0 1 143 mail.example.org.')).toBe(false);
    expect(matches({ type: 'SRV', name: '_imap._tcp.example.org', value: '0 0 .', priority: 0 }, '0 0 0 .')).toBe(true);
    expect(matches({ type: 'AAAA', name: 'm', value: '2001:db8:0:0::10' }, '2001:db8::10')).toBe(true);
    expect(matches({ type: 'TXT', name: 'x', value: 'v=spf1 -all' }, '"v=spf1 ~all"')).toBe(false);
    expect(matches({ type: 'CAA', name: 'x', value: '0 issue "letsencrypt.org"' }, '0 issue "pki.goog"')).toBe(false);
  });
});

describe('the DoH checker', () => {
  it('reports live, missing (including NXDOMAIN) and unknown (server failure)', async () => {
    doh.publish([
      { type: 'MX', name: 'live.example', value: 'mail.live.example', priority: 10 },
      { type: 'TXT', name: 'live.example', value: 'v=spf1 ip4:192.0.2.1 -all' },
      { type: 'TXT', name: 'live.example', value: 'google-site-verification=abc' },
    ]);
    const check = createDohChecker({ endpoint: doh.endpoint });
    const got = await check.check([
      { type: 'MX', name: 'live.example', value: 'mail.live.example', priority: 10 },
      { type: 'TXT', name: 'live.example', value: 'v=spf1 ip4:192.0.2.1 -all' },
      { type: 'TXT', name: 'live.example', value: 'v=spf1 ip4:192.0.2.99 -all' },
      { type: 'A', name: 'nowhere.example', value: '192.0.2.1' },
    ]);
    expect(got).toEqual([true, true, false, false]);
    // Two records of one name and type cost one query.
    expect(doh.queries.filter((q) => q === 'live.example TXT')).toHaveLength(1);

    const servfail = createServer((_req, res) => res.end(JSON.stringify({ Status: 2 })));
    servfail.listen(0, '127.0.0.1');
    await new Promise((r) => servfail.once('listening', r));
    try {
      const sf = createDohChecker({ endpoint: `http://127.0.0.1:${(servfail.address() as AddressInfo).port}/dns-query` });
      expect(await sf.check([{ type: 'A', name: 'x.example', value: '192.0.2.1' }])).toEqual([null]);
    } finally {
      await new Promise((r) => servfail.close(r));
    }
    const down = createDohChecker({ endpoint: `http://127.0.0.1:${await deadPort()}/dns-query` });
    expect(await down.check([{ type: 'A', name: 'x.example', value: '192.0.2.1' }])).toEqual([null]);
  });
});
