/**
 * @module node/smtp/outbound/mx
 * Where to deliver a domain's mail (RFC 5321 §5.1): its MX hosts in
 * preference order (equal preferences shuffled), the domain itself as an
 * implicit MX when it has none, null MX (RFC 7505) as a permanent refusal,
 * and each host's IPv6 then IPv4 addresses — all through the injectable
 * resolver.
 */
import { isIP } from 'node:net';
import { isNoData, type Resolver } from '../dns.js';

export interface MxHost {
  host: string;
  priority: number;
}

/** A permanent "this domain takes no mail". */
export class NoMailDomainError extends Error {
  constructor(readonly domain: string, why: string) {
    super(`${domain}: ${why}`);
    this.name = 'NoMailDomainError';
  }
}

export async function mxHosts(resolver: Resolver, domain: string): Promise<MxHost[]> {
  let records: { exchange: string; priority: number }[];
  try {
    records = (await resolver(domain, 'MX')) as { exchange: string; priority: number }[];
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOTFOUND') throw new NoMailDomainError(domain, 'the domain does not exist (NXDOMAIN)');
    if (!isNoData(err)) throw err;
    records = [];
  }
  if (records.length === 1 && (records[0].exchange === '' || records[0].exchange === '.')) {
    throw new NoMailDomainError(domain, 'the domain accepts no mail (null MX, RFC 7505)');
  }
  if (records.length === 0) return [{ host: domain, priority: 0 }];
  const shuffled = records.map((r) => ({ host: r.exchange.replace(/\.$/, '').toLowerCase(), priority: r.priority, k: Math.random() }));
  shuffled.sort((a, b) => a.priority - b.priority || a.k - b.k);
  return shuffled.map(({ host, priority }) => ({ host, priority }));
}

/** A host's addresses, IPv6 first (RFC 5321 does not order families; most MTAs prefer v6). */
export async function hostAddresses(resolver: Resolver, host: string, families: readonly (4 | 6)[] = [6, 4]): Promise<string[]> {
  if (isIP(host)) return [host];
  const out: string[] = [];
  for (const f of families) {
    try {
      out.push(...((await resolver(host, f === 6 ? 'AAAA' : 'A')) as string[]));
    } catch (err) {
      if (!isNoData(err)) throw err;
    }
  }
  return out;
}
