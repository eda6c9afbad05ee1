/**
 * @module edge/crypto
 * The few Web Crypto helpers the edge needs (base64url, HMAC, random ids,
 * constant-time comparison). Web Crypto only: this runs in workerd and Node.
 */

const encoder = new TextEncoder();

export function b64urlEncode(bytes: Uint8Array | ArrayBuffer): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url or base64 (with or without padding); null if it is neither. */
export function b64urlDecode(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_\-+/]*={0,2}$/.test(text)) return null;
  const std = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (std.length % 4 === 1) return null;
  try {
    const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text) as Uint8Array<ArrayBuffer>;
}

export function randomId(bytes = 16): string {
  return b64urlEncode(crypto.getRandomValues(new Uint8Array(bytes)));
}

export type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export async function hmacKey(secret: string | Uint8Array): Promise<HmacKey> {
  const raw = typeof secret === 'string' ? utf8(secret) : (secret as Uint8Array<ArrayBuffer>);
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

export async function hmac(key: HmacKey, text: string): Promise<string> {
  return b64urlEncode(await crypto.subtle.sign('HMAC', key, utf8(text)));
}

/** Verifies a base64url HMAC in constant time (crypto.subtle.verify compares that way). */
export async function hmacVerify(key: HmacKey, text: string, mac: string): Promise<boolean> {
  const bytes = b64urlDecode(mac);
  if (!bytes || bytes.length !== 32) return false;
  return crypto.subtle.verify('HMAC', key, bytes as Uint8Array<ArrayBuffer>, utf8(text));
}

/** Equal-length byte arrays compared without an early exit. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** A sub-key for one purpose, so the session, CSRF and flash MACs never share a key. */
export async function deriveKey(secret: string, purpose: string): Promise<HmacKey> {
  const base = await hmacKey(secret);
  const raw = await crypto.subtle.sign('HMAC', base, utf8(`haven-edge/${purpose}`));
  return hmacKey(new Uint8Array(raw));
}
