/**
 * @module node/http/signature
 * Request signing between the edge and the node's admin API (docs/admin-api.md).
 * Web Crypto only, so the same file runs in a Cloudflare Worker and in Node 20+.
 *
 * stringToSign = "v1\n" METHOD "\n" pathWithQuery "\n" timestamp "\n" nonce "\n" hex(SHA-256(body))
 * signature    = "v1=" hex(HMAC-SHA256(secret, stringToSign))
 *
 * The node accepts |now - timestamp| <= 300 s and remembers each nonce for
 * 600 s, so a captured request can be replayed neither later (stale) nor
 * within the window (nonce seen).
 */

export const HEADER_TIMESTAMP = 'X-Haven-Timestamp';
export const HEADER_NONCE = 'X-Haven-Nonce';
export const HEADER_SIGNATURE = 'X-Haven-Signature';
/** Largest accepted clock difference between edge and node, in seconds. */
export const MAX_SKEW_SECONDS = 300;
/** How long a nonce is remembered, in seconds: longer than the skew window on both sides. */
export const NONCE_TTL_SECONDS = 600;

const encoder = new TextEncoder();
const NONCE_RE = /^[0-9a-f]{32}$/;
const TIMESTAMP_RE = /^[0-9]{1,12}$/;
const SIGNATURE_RE = /^v1=([0-9a-f]{64})$/;

export interface SignInput {
  method: string;
  /** Path with query string, exactly as sent (e.g. `/api/v1/accounts?domain=example.org`). */
  path: string;
  body?: string | Uint8Array;
  /** Unix seconds; defaults to the current time. */
  now?: number;
  /** 32 lowercase hex chars; random by default. */
  nonce?: string;
}

export interface VerifyInput {
  method: string;
  path: string;
  body?: string | Uint8Array | null;
  /** Request headers: a Headers object or a plain record (any case). */
  headers: Headers | Record<string, string | undefined>;
  now?: number;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

function toBytes(body: string | Uint8Array | null | undefined): Uint8Array {
  if (body == null) return new Uint8Array(0);
  return typeof body === 'string' ? encoder.encode(body) : body;
}

function hex(buf: ArrayBuffer | Uint8Array): string {
  const b = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function randomNonce(): string {
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** Imported keys per secret: importKey costs as much as the HMAC itself. A node and an edge hold one secret (two while rotating). */
const keys = new Map<string, Promise<HmacKey>>();

function hmacKey(secret: string, usage: 'sign' | 'verify'): Promise<HmacKey> {
  const id = `${usage}:${secret}`;
  let k = keys.get(id);
  if (!k) {
    if (keys.size >= 8) keys.clear();
    k = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
    keys.set(id, k);
  }
  return k;
}

/** The exact text both sides sign. */
export async function stringToSign(method: string, path: string, timestamp: string, nonce: string, body: string | Uint8Array | null | undefined): Promise<string> {
  return `v1\n${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${await sha256Hex(toBytes(body))}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Headers to add to a request to the node's admin API. */
export async function signRequest(secret: string, input: SignInput): Promise<Record<string, string>> {
  const timestamp = String(input.now ?? nowSeconds());
  const nonce = input.nonce ?? randomNonce();
  const text = await stringToSign(input.method, input.path, timestamp, nonce, input.body);
  const key = await hmacKey(secret, 'sign');
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(text));
  return {
    [HEADER_TIMESTAMP]: timestamp,
    [HEADER_NONCE]: nonce,
    [HEADER_SIGNATURE]: `v1=${hex(mac)}`,
  };
}

/**
 * Nonces seen within the last NONCE_TTL_SECONDS. In memory: a restart forgets
 * them, but a replay after a restart still has to be fresh, so the window a
 * replay could use is at most the skew window around the restart.
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();
  private lastSweep = 0;

  constructor(readonly ttlSeconds = NONCE_TTL_SECONDS, readonly maxEntries = 100_000) {}

  /** Records the nonce; false if it was already seen (a replay) or the cache is full. */
  remember(nonce: string, now = nowSeconds()): boolean {
    this.sweep(now);
    const expires = this.seen.get(nonce);
    if (expires !== undefined && expires > now) return false;
    if (this.seen.size >= this.maxEntries) return false;
    this.seen.set(nonce, now + this.ttlSeconds);
    return true;
  }

  has(nonce: string, now = nowSeconds()): boolean {
    const expires = this.seen.get(nonce);
    return expires !== undefined && expires > now;
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 10 && this.seen.size < this.maxEntries) return;
    this.lastSweep = now;
    for (const [n, exp] of this.seen) if (exp <= now) this.seen.delete(n);
  }
}

function header(headers: VerifyInput['headers'], name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | undefined>;
  const lower = name.toLowerCase();
  for (const k of Object.keys(rec)) if (k.toLowerCase() === lower) return rec[k];
  return undefined;
}

/**
 * Checks a signed request. The nonce is remembered only after the signature
 * verifies, so a forger cannot burn nonces the edge has not used yet.
 */
export async function verifyRequest(secret: string, input: VerifyInput, nonces: NonceCache): Promise<VerifyResult> {
  const timestamp = header(input.headers, HEADER_TIMESTAMP);
  const nonce = header(input.headers, HEADER_NONCE);
  const signature = header(input.headers, HEADER_SIGNATURE);
  if (!timestamp || !nonce || !signature) {
    return { ok: false, reason: `missing ${[!timestamp && HEADER_TIMESTAMP, !nonce && HEADER_NONCE, !signature && HEADER_SIGNATURE].filter(Boolean).join(', ')}: sign the request as docs/admin-api.md says` };
  }
  if (!TIMESTAMP_RE.test(timestamp)) return { ok: false, reason: `${HEADER_TIMESTAMP} must be unix seconds` };
  if (!NONCE_RE.test(nonce)) return { ok: false, reason: `${HEADER_NONCE} must be 32 lowercase hex characters` };
  const m = SIGNATURE_RE.exec(signature);
  if (!m) return { ok: false, reason: `${HEADER_SIGNATURE} must be v1=<64 lowercase hex characters>` };
  const now = input.now ?? nowSeconds();
  const skew = Number(timestamp) - now;
  if (skew > MAX_SKEW_SECONDS) return { ok: false, reason: 'request timestamp is in the future: check the edge clock (NTP)' };
  if (skew < -MAX_SKEW_SECONDS) return { ok: false, reason: 'request is stale (older than 300 s): check the edge clock (NTP) and resend' };
  const text = await stringToSign(input.method, input.path, timestamp, nonce, input.body);
  // crypto.subtle.verify compares in constant time.
  const key = await hmacKey(secret, 'verify');
  const good = await crypto.subtle.verify('HMAC', key, fromHex(m[1]) as Uint8Array<ArrayBuffer>, encoder.encode(text));
  if (!good) return { ok: false, reason: 'signature does not match: check that the edge and the node share the same admin secret' };
  if (!nonces.remember(nonce, now)) return { ok: false, reason: 'nonce already used (replayed request): send a new request with a fresh nonce' };
  return { ok: true };
}
