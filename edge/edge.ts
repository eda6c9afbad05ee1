/**
 * @module edge/edge
 * The per-app toolkit every route uses: the resolved dependencies, the node
 * API client, the MAC keys, the cookie rules, flash messages and the one
 * place node errors turn into "what to do next" on the page.
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { HTTPException } from 'hono/http-exception';
import { AccessVerifier } from './auth/access.js';
import { b64urlDecode, b64urlEncode, deriveKey, hmac, hmacVerify, utf8, type HmacKey } from './crypto.js';
import { clientPorts, mailHostOf, type EdgeDeps, type EdgeEnv } from './context.js';
import { createDohChecker, type DnsChecker } from './dns-check.js';
import { NodeApi, NodeApiError, NodeUnreachableError } from './node-api.js';
import type { ClientSetup } from './setup/autoconfig.js';

export const FLASH_COOKIE = 'haven_flash';

/** A mistake in what the admin typed: shown on the page as is. */
export class InputError extends Error {
  override name = 'InputError';
}

export interface Keys {
  session: HmacKey;
  csrf: HmacKey;
  flash: HmacKey;
}

export type Ctx = Context<EdgeEnv>;

export class Edge {
  readonly api: NodeApi | null;
  readonly access: AccessVerifier | null;
  readonly dns: DnsChecker | null;
  readonly now: () => number;
  private keys: Promise<Keys> | null = null;
  private domainCache: { at: number; names: string[] } | null = null;

  constructor(readonly deps: EdgeDeps) {
    this.now = deps.now ?? Date.now;
    this.api = deps.nodeUrl && deps.edgeSecret ? new NodeApi({ baseUrl: deps.nodeUrl, secret: deps.edgeSecret, fetch: deps.nodeFetch }) : null;
    this.access = deps.access?.aud && deps.access.team ? new AccessVerifier(deps.access, deps.fetch) : null;
    this.dns = deps.dnsChecker === undefined ? createDohChecker({ fetch: deps.fetch }) : deps.dnsChecker;
  }

  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The configuration problem that keeps the admin UI from working, if any. */
  configProblem(): string | null {
    if (!this.deps.nodeUrl) return 'NODE_URL is not set: set it to the node\'s HTTPS URL, e.g. https://mail.example.com (wrangler.toml [vars] or the Pulumi stack).';
    if (!this.deps.edgeSecret) return 'EDGE_SHARED_SECRET is not set: set the same admin secret the node has (`wrangler secret put EDGE_SHARED_SECRET`, or haven:edgeSecret in the Pulumi stack).';
    if (!this.deps.adminPasswordHash && !this.access) return 'Neither ADMIN_PASSWORD_HASH nor Cloudflare Access (ACCESS_AUD and ACCESS_TEAM) is configured: make a hash with `npx tsx edge/hash-password.ts` and set it as the ADMIN_PASSWORD_HASH secret.';
    return null;
  }

  macKeys(): Promise<Keys> {
    const secret = this.deps.sessionSecret || this.deps.edgeSecret;
    if (!secret) throw new HTTPException(503, { message: 'SESSION_SECRET (or EDGE_SHARED_SECRET) is not set: set one as a Worker secret so sessions can be signed.' });
    this.keys ??= (async () => ({ session: await deriveKey(secret, 'session'), csrf: await deriveKey(secret, 'csrf'), flash: await deriveKey(secret, 'flash') }))();
    return this.keys;
  }

  node(): NodeApi {
    if (!this.api) throw new HTTPException(503, { message: this.configProblem() ?? 'the node is not configured' });
    return this.api;
  }

  setup(domain: string): ClientSetup {
    const mailHost = mailHostOf(this.deps);
    if (!mailHost) throw new HTTPException(503, { message: 'MAIL_HOST is not set: set it to the node\'s mail host name, e.g. mail.example.com' });
    return { domain, mailHost, ports: clientPorts(this.deps), pop3: this.deps.pop3 ?? true };
  }

  /** Whether the edge serves set-up documents for this domain: MAIL_DOMAINS if set, else the node's domain list. */
  async knownDomain(domain: string): Promise<boolean> {
    const d = domain.toLowerCase();
    if (this.deps.mailDomains?.length) return this.deps.mailDomains.some((x) => x.toLowerCase() === d);
    const now = this.now();
    if (!this.domainCache || now - this.domainCache.at > 60_000) {
      const r = await this.node().get<{ domains: { name: string }[] }>('/api/v1/domains');
      this.domainCache = { at: now, names: r.domains.map((x) => x.name.toLowerCase()) };
    }
    return this.domainCache.names.includes(d);
  }

  clientIp(c: Ctx): string {
    // Only the runtime's own idea of the client: CF-Connecting-IP is set by Cloudflare and cannot be forged
    // there, but in Node anyone can send it, so the local run passes the socket's address instead.
    if (this.deps.clientIp) return this.deps.clientIp(c) ?? 'unknown';
    return c.req.header('cf-connecting-ip') ?? 'unknown';
  }
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Cookies are Secure everywhere except plain http on this machine (the local run). */
export function cookieSecure(c: Ctx): boolean {
  const u = new URL(c.req.url);
  return !(u.protocol === 'http:' && LOCAL_HOSTS.has(u.hostname));
}

export function setAppCookie(c: Ctx, name: string, value: string, maxAge: number): void {
  setCookie(c, name, value, { httpOnly: true, secure: cookieSecure(c), sameSite: 'Strict', path: '/', maxAge });
}

export function clearAppCookie(c: Ctx, name: string): void {
  deleteCookie(c, name, { path: '/', secure: cookieSecure(c), httpOnly: true, sameSite: 'Strict' });
}

export async function setFlash(c: Ctx, edge: Edge, kind: 'ok' | 'error', text: string): Promise<void> {
  const body = b64urlEncode(utf8(JSON.stringify({ kind, text: text.slice(0, 600) })));
  setAppCookie(c, FLASH_COOKIE, `${body}.${await hmac((await edge.macKeys()).flash, `flash\n${body}`)}`, 120);
}

/** Reads and clears the flash message; a forged one is dropped. */
export async function takeFlash(c: Ctx, edge: Edge): Promise<{ kind: 'ok' | 'error'; text: string } | null> {
  const v = getCookie(c, FLASH_COOKIE);
  if (!v) return null;
  clearAppCookie(c, FLASH_COOKIE);
  const [body, mac] = v.split('.');
  if (!body || !mac || !(await hmacVerify((await edge.macKeys()).flash, `flash\n${body}`, mac))) return null;
  try {
    const f = JSON.parse(new TextDecoder().decode(b64urlDecode(body) ?? new Uint8Array())) as { kind: 'ok' | 'error'; text: string };
    return f.kind === 'ok' || f.kind === 'error' ? { kind: f.kind, text: String(f.text) } : null;
  } catch {
    return null;
  }
}

export async function redirectWith(c: Ctx, edge: Edge, to: string, kind: 'ok' | 'error', text: string): Promise<Response> {
  await setFlash(c, edge, kind, text);
  return c.redirect(to, 303);
}

/** What went wrong, for the admin: node errors already say what to do next. */
export function errorText(err: unknown): string | null {
  if (err instanceof NodeApiError || err instanceof NodeUnreachableError || err instanceof InputError) return err.message;
  return null;
}

/**
 * Runs one form action: on a node or input error the admin goes back to the
 * page with the message; anything else is a bug and reaches onError.
 */
export async function act(c: Ctx, edge: Edge, back: string, fn: () => Promise<Response>): Promise<Response> {
  try {
    return await fn();
  } catch (err) {
    const text = errorText(err);
    if (text === null) throw err;
    return redirectWith(c, edge, back, 'error', text);
  }
}

/** A form field as a trimmed string ('' when absent or a file). */
export function field(form: Record<string, unknown>, name: string): string {
  const v = form[name];
  return typeof v === 'string' ? v.trim() : '';
}

export const enc = encodeURIComponent;
