/**
 * SPF ip4/ip6 ranges (RFC 7208 §5.6) after node/smtp/cidr's shortcut: a range
 * without a colon goes straight to the IPv4 parser. The answers must be the
 * library's own for every kind of range, mailauth must be using the patched
 * module, and SPF verdicts through mailauth must still follow §5.6:
 * "ip4" and "ip6" match when the client's address is within the range
 * (ip4-cidr-length 0-32, ip6-cidr-length 0-128), and a range outside those
 * lengths is a syntax error, a permerror (§4.6).
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ipaddr from 'ipaddr.js';
import { patchCidrParsing } from '../../node/smtp/cidr.js';
import { cachingResolver } from '../../node/smtp/dns.js';
import { verifyMessage } from '../../node/smtp/verify.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';

const PATCHED = Symbol.for('haven.ipaddr.parseCIDR');
type Parse = (s: string) => [ipaddr.IPv4 | ipaddr.IPv6, number];

/** What a parse gave: the address, its kind and the prefix length, or the error's message. */
function outcome(parse: Parse, range: string): string {
  try {
    const [addr, bits] = parse(range);
    return `${addr.kind()} ${addr.toString()}/${bits}`;
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

const RANGES = [
  '127.0.0.0/8',
  '192.0.2.1/32',
  '0.0.0.0/0',
  '10.0.0.0/33',
  '10.0.0.0/-1',
  '10.0.0.0/',
  '127.0.0.1',
  '1.2.3/24',
  '0x7f.0.0.1/8',
  '010.0.0.1/8',
  '256.0.0.1/8',
  '',
  'garbage/8',
  '2001:db8::/32',
  '2001:db8::/129',
  '::/0',
  '::ffff:192.0.2.0/120',
  '::192.0.2.0/120',
  'fe80::1%eth0/64',
  '2001:db8::1',
];

describe('ipaddr.parseCIDR with the IPv4 shortcut', () => {
  beforeAll(() => patchCidrParsing());

  it('answers every kind of range exactly as the library does', () => {
    const original = (ipaddr as unknown as Record<symbol, Parse>)[PATCHED];
    expect(typeof original).toBe('function');
    for (const range of RANGES) expect([range, outcome(ipaddr.parseCIDR as Parse, range)]).toEqual([range, outcome(original, range)]);
  });

  it('is the module mailauth evaluates SPF with', () => {
    const here = createRequire(import.meta.url);
    const mailauths = createRequire(here.resolve('mailauth'))('ipaddr.js') as Record<symbol, unknown>;
    expect(typeof mailauths[PATCHED]).toBe('function');
  });
});

describe('SPF ip4 and ip6 mechanisms through mailauth (RFC 7208 §5.6)', () => {
  let dns: TestDns;
  beforeAll(async () => {
    patchCidrParsing();
    dns = await startTestDns();
    dns.add('ranges.test', { TXT: ['v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.0/8 ip6:2001:db8::/32 -all'] });
    dns.add('too-long.test', { TXT: ['v=spf1 ip4:127.0.0.0/33 -all'] });
  });
  afterAll(() => dns.close());

  const spf = async (ip: string, domain: string) => {
    const raw = Buffer.from(`From: a@${domain}\r\nSubject: s\r\n\r\nbody\r\n`);
    const v = await verifyMessage({ raw, ip, helo: 'client.example', mailFrom: `a@${domain}`, hostname: 'mx.haven.test', resolver: cachingResolver(dns.resolver) });
    return v.result.spf ? v.result.spf.status.result : null;
  };

  it('passes a client inside an ip4 or ip6 range, fails one outside them all (-all)', async () => {
    expect(await spf('127.0.0.1', 'ranges.test')).toBe('pass');
    expect(await spf('192.0.2.200', 'ranges.test')).toBe('pass');
    expect(await spf('2001:db8::5', 'ranges.test')).toBe('pass');
    expect(await spf('198.51.100.7', 'ranges.test')).toBe('fail');
    expect(await spf('2001:db9::5', 'ranges.test')).toBe('fail');
  });

  it('gives permerror for an ip4-cidr-length over 32 (§4.6, §5.6)', async () => {
    expect(await spf('127.0.0.1', 'too-long.test')).toBe('permerror');
  });
});
