/**
 * @module node/dns/reverse
 * Reverse names (PTR and DNS blocklist queries) and what a blocklist's answer
 * means: shared by the MX's spam signals (node/smtp) and `haven doctor`, so a
 * listing reads the same to both. Pure: no lookups here.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** All eight groups, four lowercase hex digits each. */
export function expandIPv6(ip: string): string {
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = ip.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0').toLowerCase()).join(':');
}

/** The reversed-address labels (RFC 1035 §3.5, RFC 3596 §2.5) under `suffix`. */
export function reversedName(ip: string, suffix: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.${suffix}`;
  if (isIPv6(ip)) return `${expandIPv6(ip).replace(/:/g, '').split('').reverse().join('.')}.${suffix}`;
  throw new Error(`${ip} is not an IP address`);
}

/**
 * A blocklist's A answers for one address (RFC 5782: an answer in 127.0.0.0/8
 * means listed). Spamhaus answers 127.255.255.x when it refuses the query
 * (a public or overused resolver): that is no listing, only no answer.
 */
export function blocklistVerdict(answers: readonly string[]): { verdict: 'listed' | 'refused' | 'clear'; hits: string[] } {
  const hits = answers.filter((a) => a.startsWith('127.'));
  if (hits.length === 0) return { verdict: 'clear', hits };
  if (hits.every((a) => a.startsWith('127.255.255.'))) return { verdict: 'refused', hits };
  return { verdict: 'listed', hits };
}
