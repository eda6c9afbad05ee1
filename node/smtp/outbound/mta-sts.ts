/**
 * @module node/smtp/outbound/mta-sts
 * MTA-STS (RFC 8461) for outbound delivery: the `_mta-sts` TXT record names
 * a policy id; the policy is fetched over HTTPS (validated) from
 * `mta-sts.<domain>`, cached until max_age and refetched when the id
 * changes — kept in durable storage too, so a restart does not reopen the
 * first-contact downgrade window RFC 8461 §10.2 warns about; in enforce mode only MX hosts the policy lists are used, and only
 * over TLS with a certificate valid for the MX name. The fetcher is
 * injectable so tests serve a policy from loopback.
 */
import https from 'node:https';
import { parsePolicy, resolvePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import { isIPv6 } from 'node:net';
import type { Resolver } from '../dns.js';
import { hostAddresses } from './mx.js';

export interface StsPolicy {
  id: string;
  mode: 'enforce' | 'testing' | 'none';
  mx: string[];
  maxAge: number;
  expiresAt: number;
}

/** Fetches the policy text for a domain; null when there is none. */
export type PolicyFetcher = (domain: string) => Promise<string | null>;

export interface HttpsFetcherOptions {
  /** Resolves `mta-sts.<domain>` (the same injectable resolver as every other lookup). */
  resolver: Resolver;
  /** 443; tests serve the policy from a loopback port. */
  port?: number;
  /** Extra trust anchors (tests); the system's CAs otherwise. */
  ca?: string | Buffer | (string | Buffer)[];
}

/**
 * Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt` with a validated
 * certificate for that name (RFC 8461 §3.3), no redirects, at most 64 KB.
 */
export function httpsPolicyFetcher(opts: HttpsFetcherOptions): PolicyFetcher {
  const lookup = (host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    hostAddresses(opts.resolver, host, [6, 4]).then(
      (addrs) => {
        if (addrs.length === 0) return cb(Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' }));
        const all = addrs.map((address) => ({ address, family: isIPv6(address) ? 6 : 4 }));
        if (options.all) cb(null, all);
        else cb(null, all[0].address, all[0].family);
      },
      (err) => cb(err),
    );
  };
  return (domain) =>
    new Promise((resolve, reject) => {
      const host = `mta-sts.${domain}`;
      const req = https.get(
        {
          host,
          servername: host,
          port: opts.port ?? 443,
          path: '/.well-known/mta-sts.txt',
          timeout: 15_000,
          headers: { 'user-agent': 'Haven' },
          lookup: lookup as never,
          ...(opts.ca ? { ca: opts.ca } : {}),
          minVersion: 'TLSv1.2',
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            // RFC 8461 §3.3: policies are small; refuse anything silly.
            if (size > 64 * 1024) req.destroy(new Error('MTA-STS policy too large'));
            else chunks.push(c);
          });
          res.on('end', () => {
            // §3.3: a redirect is not followed, and only a 200 is a policy.
            if (res.statusCode !== 200) return resolve(null);
            resolve(Buffer.concat(chunks).toString('utf8'));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('MTA-STS policy fetch timed out')));
      req.on('error', reject);
    });
}

/** Where policies outlive the process (the directory's settings in the node). */
export interface PolicyStore {
  load(domain: string): string | null;
  save(domain: string, json: string): void;
}

export class MtaSts {
  private readonly cache = new Map<string, StsPolicy>();

  constructor(
    private readonly resolver: Resolver,
    private readonly fetcher: PolicyFetcher = httpsPolicyFetcher({ resolver }),
    private readonly persist?: PolicyStore,
  ) {}

  private cached(domain: string): StsPolicy | undefined {
    let p = this.cache.get(domain);
    if (!p && this.persist) {
      const json = this.persist.load(domain);
      if (json) {
        try {
          p = JSON.parse(json) as StsPolicy;
          this.cache.set(domain, p);
        } catch {
          // A damaged entry is as good as none; the next fetch replaces it.
        }
      }
    }
    return p;
  }

  /** The policy in force for a domain, or null (no policy: opportunistic TLS). */
  async policy(domain: string, now = Date.now()): Promise<StsPolicy | null> {
    domain = domain.toLowerCase();
    const cached = this.cached(domain);
    let id: string | false;
    try {
      id = await resolvePolicy(domain, { resolver: this.resolver });
    } catch {
      // DNS trouble: keep honouring a cached policy (RFC 8461 §5.1).
      return cached && cached.expiresAt > now ? cached : null;
    }
    if (!id) return cached && cached.expiresAt > now ? cached : null;
    if (cached && cached.id === id && cached.expiresAt > now) return cached;
    try {
      const text = await this.fetcher(domain);
      if (!text) return cached && cached.expiresAt > now ? cached : null;
      const p = parsePolicy(text);
      const policy: StsPolicy = { id, mode: p.mode, mx: p.mx ?? [], maxAge: p.maxAge ?? 86400, expiresAt: now + (p.maxAge ?? 86400) * 1000 };
      this.cache.set(domain, policy);
      this.persist?.save(domain, JSON.stringify(policy));
      return policy;
    } catch {
      return cached && cached.expiresAt > now ? cached : null;
    }
  }

  static allows(policy: StsPolicy, mxHost: string): boolean {
    return validateMx(mxHost, { mode: policy.mode, mx: policy.mx }).valid;
  }
}
