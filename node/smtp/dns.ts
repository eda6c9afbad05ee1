/**
 * @module node/smtp/dns
 * The one DNS surface SMTP uses: a resolver function shaped like
 * `dns.promises.resolve(name, rrtype)` (what mailauth takes too), injectable
 * so tests point everything — SPF, DKIM, DMARC, MX, DNSBL, MTA-STS — at a
 * real DNS server on loopback. Also the small lookups built on it.
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { blocklistVerdict, reversedName } from '../dns/reverse.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Resolver = (name: string, rrtype: string) => Promise<any>;

export const systemResolver: Resolver = (name, rrtype) => dnsPromises.resolve(name, rrtype);

/** A resolver that asks the given servers ("127.0.0.1:5353"), through node:dns. */
export function resolverFor(servers: string[], opts: { timeoutMs?: number } = {}): Resolver {
  const r = new dnsPromises.Resolver({ timeout: opts.timeoutMs ?? 2000, tries: 2 });
  r.setServers(servers);
  return (name, rrtype) => r.resolve(name, rrtype);
}

/**
 * A small in-process cache in front of a resolver. Every inbound message
 * costs several lookups (SPF and its includes, DMARC, DKIM keys) and most
 * senders repeat; node:dns does not cache and gives no TTLs for TXT, so
 * answers are kept for a fixed short time, "no data" answers for less.
 * In-flight lookups are shared.
 */
export function cachingResolver(inner: Resolver, opts: { ttlMs?: number; negativeTtlMs?: number; max?: number } = {}): Resolver {
  const ttl = opts.ttlMs ?? 60_000;
  const negTtl = opts.negativeTtlMs ?? 15_000;
  const max = opts.max ?? 10_000;
  const cache = new Map<string, { expires: number; value: Promise<unknown> }>();
  return (name, rrtype) => {
    const key = `${rrtype} ${name.toLowerCase()}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.expires > now) return hit.value as Promise<never>;
    const value = inner(name, rrtype);
    const entry = { expires: now + ttl, value };
    cache.set(key, entry);
    if (cache.size > max) cache.delete(cache.keys().next().value as string);
    value.catch((err) => {
      // Failures other than "no data" (timeouts, SERVFAIL) are not cached at all.
      if (isNoData(err)) entry.expires = Date.now() + negTtl;
      else if (cache.get(key) === entry) cache.delete(key);
    });
    return value;
  };
}

/** True for "no such name / no such record", the answers that are not errors. */
export function isNoData(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOTFOUND' || code === 'ENODATA' || code === 'NXDOMAIN';
}

/** The DNSBL query name for an IP in a zone (RFC 5782 §2.1, §2.4). */
export function dnsblName(ip: string, zone: string): string | null {
  return isIP(ip) ? reversedName(ip, zone) : null;
}

/** Zones that list the IP (an A answer in 127.0.0.0/8, per RFC 5782; a refused query is no listing). */
export async function dnsblListings(resolver: Resolver, ip: string, zones: readonly string[]): Promise<string[]> {
  const mapped = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  const hits = await Promise.all(
    zones.map(async (zone) => {
      const name = dnsblName(mapped, zone);
      if (!name) return null;
      try {
        const answers = (await resolver(name, 'A')) as string[];
        return blocklistVerdict(answers).verdict === 'listed' ? zone : null;
      } catch {
        // An unreachable or refusing list is no evidence either way.
        return null;
      }
    }),
  );
  return hits.filter((z): z is string => z !== null);
}
