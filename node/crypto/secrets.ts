/**
 * @module node/crypto/secrets
 * Generated secrets people type or store: recovery keys and app passwords.
 * Both use an alphabet without look-alike characters and are grouped so a
 * person can copy them from a screen; parsing ignores case, spaces and dashes.
 */
import { randomBytes, randomUUID } from 'node:crypto';

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // no i, l, o, 0, 1

function randomString(length: number): string {
  const out: string[] = [];
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // rejection sampling keeps every character equally likely
      if (b < 256 - (256 % ALPHABET.length) && out.length < length) out.push(ALPHABET[b % ALPHABET.length]);
    }
  }
  return out.join('');
}

function group(s: string, size: number): string {
  return s.match(new RegExp(`.{1,${size}}`, 'g'))!.join('-');
}

/** 32 characters from a 31-letter alphabet: ~158 bits. */
export function newRecoveryKey(): string {
  return group(randomString(32), 4);
}

/** 20 characters: ~99 bits, enough that HKDF rather than scrypt protects it. */
export function newAppPassword(): string {
  return group(randomString(20), 5);
}

/** Normalizes a typed recovery key or app password for key derivation. */
export function normalizeSecret(typed: string): string {
  return typed.toLowerCase().replace(/[\s-]/g, '');
}

export function newId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 20);
}
