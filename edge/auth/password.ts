/**
 * @module edge/auth/password
 * The admin password hash: PBKDF2-SHA256 through Web Crypto, because Workers
 * have no scrypt or argon2.
 *
 * Format (one line, stored as the ADMIN_PASSWORD_HASH secret):
 *
 *     pbkdf2-sha256$<iterations>$<salt, base64url>$<derived key, base64url>
 *
 * 100,000 iterations by default: the most Cloudflare Workers allow (a larger
 * count makes deriveBits throw there), so a hash made here always verifies
 * on the edge. Salt 16 random bytes, derived key 32 bytes.
 * Make one with `npx tsx edge/hash-password.ts`.
 */
import { b64urlDecode, b64urlEncode, constantTimeEqual, utf8 } from '../crypto.js';

export const PBKDF2_ITERATIONS = 100_000;
/** Workers' ceiling for PBKDF2 iterations. */
export const PBKDF2_MAX_ITERATIONS = 100_000;
const PREFIX = 'pbkdf2-sha256';

export class PasswordHashFormatError extends Error {
  override name = 'PasswordHashFormatError';
}

async function derive(password: string, salt: Uint8Array, iterations: number, bytes: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', utf8(password.normalize('NFC')), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations }, key, bytes * 8);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  if (password.length < 12) throw new PasswordHashFormatError('the admin password must be at least 12 characters: choose a longer one (a passphrase of four words works)');
  if (!Number.isInteger(iterations) || iterations < 10_000 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new PasswordHashFormatError(`iterations must be between 10000 and ${PBKDF2_MAX_ITERATIONS} (the Workers limit)`);
  }
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const dk = await derive(password, salt, iterations, 32);
  return `${PREFIX}$${iterations}$${b64urlEncode(salt)}$${b64urlEncode(dk)}`;
}

interface Parsed {
  iterations: number;
  salt: Uint8Array;
  dk: Uint8Array;
}

export function parsePasswordHash(stored: string): Parsed {
  const parts = stored.trim().split('$');
  const expect = `expected ${PREFIX}$<iterations>$<salt>$<hash>: make one with \`npx tsx edge/hash-password.ts\``;
  if (parts.length !== 4 || parts[0] !== PREFIX) throw new PasswordHashFormatError(`ADMIN_PASSWORD_HASH is not a PBKDF2 hash (${expect})`);
  const iterations = Number(parts[1]);
  if (!/^\d+$/.test(parts[1]) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new PasswordHashFormatError(`ADMIN_PASSWORD_HASH has ${parts[1]} iterations; Workers allow 1 to ${PBKDF2_MAX_ITERATIONS} (${expect})`);
  }
  const salt = b64urlDecode(parts[2]);
  const dk = b64urlDecode(parts[3]);
  if (!salt || salt.length < 8 || !dk || dk.length < 16) throw new PasswordHashFormatError(`ADMIN_PASSWORD_HASH has a malformed salt or hash (${expect})`);
  return { iterations, salt, dk };
}

/** True when the password matches. Throws PasswordHashFormatError if the stored hash is malformed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const p = parsePasswordHash(stored);
  const dk = await derive(password, p.salt, p.iterations, p.dk.length);
  return constantTimeEqual(dk, p.dk);
}
