/**
 * @module node/doctor/lookup
 * DNS answers for the checks, through the node's injectable resolver
 * (`(name, rrtype) => Promise`, as node/smtp uses): "no such name" and "no
 * such record" are an empty answer, anything else (timeout, SERVFAIL,
 * refused) is an error the check reports, and reverse names for PTR and
 * DNSBL queries.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { expandIPv6, reversedName } from '../dns/reverse.js';
import type { Resolver } from '../smtp/index.js';

export { expandIPv6, reversedName };

export type Answer<T> = { answers: T[]; error?: undefined } | { answers?: undefined; error: string };

export interface Mx {
  exchange: string;
  priority: number;
}
export interface Srv {
  name: string;
  port: number;
  priority: number;
  weight: number;
}
export interface Caa {
  critical: number;
  issue?: string;
  issuewild?: string;
  iodef?: string;
}

const NO_DATA = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

export class Lookup {
  constructor(private readonly resolver: Resolver) {}

  async query<T>(name: string, rrtype: string): Promise<Answer<T>> {
    try {
      return { answers: ((await this.resolver(name, rrtype)) as T[]) ?? [] };
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (NO_DATA.has(code)) return { answers: [] };
      return { error: `${rrtype} ${name}: ${code || (err as Error).message}` };
    }
  }

  a(name: string) {
    return this.query<string>(name, 'A');
  }
  aaaa(name: string) {
    return this.query<string>(name, 'AAAA');
  }
  mx(name: string) {
    return this.query<Mx>(name, 'MX');
  }
  srv(name: string) {
    return this.query<Srv>(name, 'SRV');
  }
  caa(name: string) {
    return this.query<Caa>(name, 'CAA');
  }
  ptr(ip: string) {
    return this.query<string>(arpaName(ip), 'PTR');
  }
  /** TXT records with their strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2). */
  async txt(name: string): Promise<Answer<string>> {
    const r = await this.query<string[]>(name, 'TXT');
    return r.error !== undefined ? r : { answers: r.answers.map((chunks) => chunks.join('')) };
  }
}

/** Lower case, no trailing dot. */
export function normName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export function arpaName(ip: string): string {
  return reversedName(ip, isIPv4(ip) ? 'in-addr.arpa' : 'ip6.arpa');
}

/** Same address, whatever the spelling (IPv6 compression, case). */
export function sameIp(a: string, b: string): boolean {
  if (isIPv6(a) && isIPv6(b)) return expandIPv6(a) === expandIPv6(b);
  return a === b;
}
