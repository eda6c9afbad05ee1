/**
 * @module edge/auth/access
 * Cloudflare Access in front of the admin UI: Access puts a signed JWT in the
 * `Cf-Access-Jwt-Assertion` header of every request it lets through. We check
 * it ourselves (RS256 against the team's published keys, issuer, audience tag,
 * expiry) rather than trusting that the header came from Access, because the
 * Worker may also be reachable on a route Access does not cover.
 */
import { b64urlDecode, utf8 } from '../crypto.js';

export const ACCESS_HEADER = 'cf-access-jwt-assertion';

export interface AccessConfig {
  /** The Application Audience (AUD) tag from the Access application's overview page. */
  aud: string;
  /** The team name ("myteam") or its domain ("myteam.cloudflareaccess.com"). */
  team: string;
  /** Where the signing keys are; default https://<team domain>/cdn-cgi/access/certs. */
  certsUrl?: string;
}

export interface AccessIdentity {
  email?: string;
  sub?: string;
}

type Jwk = { kty: string; kid?: string; n?: string; e?: string; alg?: string; use?: string };

export function teamDomain(team: string): string {
  const t = team.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return t.includes('.') ? t : `${t}.cloudflareaccess.com`;
}

/** Verifies Access JWTs, caching the team's keys for ten minutes (they rotate every six weeks). */
export class AccessVerifier {
  private keys: { at: number; keys: Jwk[] } | null = null;
  private readonly issuer: string;
  private readonly certsUrl: string;

  constructor(private readonly cfg: AccessConfig, private readonly fetcher: typeof fetch = fetch) {
    this.issuer = `https://${teamDomain(cfg.team)}`;
    this.certsUrl = cfg.certsUrl ?? `${this.issuer}/cdn-cgi/access/certs`;
  }

  private async jwks(now: number, refresh: boolean): Promise<Jwk[]> {
    if (!refresh && this.keys && now - this.keys.at < 600) return this.keys.keys;
    const res = await this.fetcher(this.certsUrl, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`Cloudflare Access keys at ${this.certsUrl} answered ${res.status}: check ACCESS_TEAM`);
    const body = (await res.json()) as { keys?: Jwk[] };
    this.keys = { at: now, keys: Array.isArray(body.keys) ? body.keys : [] };
    return this.keys.keys;
  }

  /** The identity in a valid token; null for anything else (a bad token is simply not a login). */
  async verify(token: string | undefined, now: number): Promise<AccessIdentity | null> {
    if (!token) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [h, p, s] = parts.map((x) => b64urlDecode(x));
    if (!h || !p || !s) return null;
    let header: { alg?: string; kid?: string };
    let claims: { aud?: string | string[]; iss?: string; exp?: number; nbf?: number; email?: string; sub?: string };
    try {
      header = JSON.parse(new TextDecoder().decode(h));
      claims = JSON.parse(new TextDecoder().decode(p));
    } catch {
      return null;
    }
    if (header.alg !== 'RS256') return null;
    const nowSec = Math.floor(now / 1000);
    const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!auds.includes(this.cfg.aud) || claims.iss !== this.issuer) return null;
    if (typeof claims.exp !== 'number' || claims.exp <= nowSec) return null;
    if (typeof claims.nbf === 'number' && claims.nbf > nowSec + 60) return null;
    let keys = await this.jwks(now, false);
    // An unknown kid may be a rotated key: refetch once.
    if (!keys.some((k) => k.kid === header.kid)) keys = await this.jwks(now, true);
    const jwk = keys.find((k) => k.kid === header.kid);
    if (!jwk) return null;
    const key = await crypto.subtle.importKey('jwk', { ...jwk, alg: 'RS256', ext: true }, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
    const ok = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, s as Uint8Array<ArrayBuffer>, utf8(`${parts[0]}.${parts[1]}`));
    return ok ? { email: claims.email, sub: claims.sub } : null;
  }
}
