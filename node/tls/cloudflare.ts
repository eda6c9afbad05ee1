/**
 * @module node/tls/cloudflare
 * The few Cloudflare API v4 calls the ACME dns-01 challenge needs: find the
 * zone a name lives in, create a TXT record, list and delete records
 * (`zones?name=`, `zones/:id/dns_records`). Authenticated with an API token
 * scoped to Zone.DNS:Edit; nothing else of the account is touched.
 */
import { CertificateError } from './errors.js';

export const CLOUDFLARE_API = 'https://api.cloudflare.com/client/v4';

export interface CloudflareZone {
  id: string;
  name: string;
}

export interface CloudflareRecord {
  id: string;
  type: string;
  name: string;
  content: string;
}

export interface CloudflareDnsOptions {
  token: string;
  /** API root; a local stand-in in tests. */
  apiBase?: string;
  /** Per request, ms. */
  timeoutMs?: number;
}

interface Envelope<T> {
  success: boolean;
  errors?: { code: number; message: string }[];
  result: T;
}

export class CloudflareDns {
  readonly #token: string;
  readonly #base: string;
  readonly #timeoutMs: number;

  constructor(opts: CloudflareDnsOptions) {
    if (!opts.token) throw new CertificateError('dns-01 needs a Cloudflare API token with Zone.DNS:Edit: set tls.acme.cloudflareToken (HAVEN_TLS_ACME_CLOUDFLARE_TOKEN)');
    this.#token = opts.token;
    this.#base = (opts.apiBase ?? CLOUDFLARE_API).replace(/\/$/, '');
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** The zone holding `name`: the longest suffix of it that is a zone of this token's account. */
  async zoneFor(name: string): Promise<CloudflareZone> {
    const labels = name.toLowerCase().replace(/\.$/, '').split('.');
    for (let i = 0; i < labels.length - 1; i++) {
      const candidate = labels.slice(i).join('.');
      const zones = await this.#call<CloudflareZone[]>('GET', `/zones?name=${encodeURIComponent(candidate)}`);
      const zone = zones.find((z) => z.name.toLowerCase() === candidate);
      if (zone) return { id: zone.id, name: zone.name };
    }
    throw new CertificateError(`no Cloudflare zone holds ${name}: add the domain to the Cloudflare account, or give the API token access to its zone`);
  }

  async createTxt(zoneId: string, name: string, content: string, ttl = 60): Promise<CloudflareRecord> {
    return this.#call<CloudflareRecord>('POST', `/zones/${encodeURIComponent(zoneId)}/dns_records`, { type: 'TXT', name, content, ttl });
  }

  async listRecords(zoneId: string, filter: { type?: string; name?: string } = {}): Promise<CloudflareRecord[]> {
    const q = new URLSearchParams();
    if (filter.type) q.set('type', filter.type);
    if (filter.name) q.set('name', filter.name);
    q.set('per_page', '100');
    return this.#call<CloudflareRecord[]>('GET', `/zones/${encodeURIComponent(zoneId)}/dns_records?${q}`);
  }

  async deleteRecord(zoneId: string, recordId: string): Promise<void> {
    await this.#call<unknown>('DELETE', `/zones/${encodeURIComponent(zoneId)}/dns_records/${encodeURIComponent(recordId)}`);
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.#base + path, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new CertificateError(`cannot reach the Cloudflare API (${(err as Error).message}); check the node's outbound HTTPS`);
    }
    let env: Envelope<T> | undefined;
    try {
      env = (await res.json()) as Envelope<T>;
    } catch {
      env = undefined;
    }
    if (res.ok && env?.success) return env.result;
    const why = env?.errors?.map((e) => `${e.code} ${e.message}`).join('; ') || `HTTP ${res.status}`;
    const fix =
      res.status === 401 || res.status === 403
        ? 'give tls.acme.cloudflareToken the Zone.DNS:Edit permission for this zone'
        : 'check the zone in the Cloudflare dashboard and try again';
    throw new CertificateError(`Cloudflare API ${method} ${path.split('?')[0]} failed: ${why}; ${fix}`);
  }
}
