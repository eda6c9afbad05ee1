/**
 * @module node/crypto/wrap
 * Wrapping a mailbox key under key-encryption keys. Human passwords go
 * through scrypt (slow on purpose); generated secrets (app passwords,
 * recovery keys) already carry 128+ bits of entropy, so HKDF suffices and
 * logins with them stay cheap for clients that reconnect often.
 */
import { hkdfSync, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { open, seal } from './aead.js';

export type WrapKind = 'password' | 'app' | 'recovery' | 'master';

export interface KdfParams {
  alg: 'scrypt' | 'hkdf' | 'none';
  salt: string; // base64
  N?: number;
  r?: number;
  p?: number;
}

export interface WrappedKey {
  kind: WrapKind;
  kdf: KdfParams;
  /** base64 of nonce || ciphertext || tag */
  blob: string;
}

/** scrypt cost for account passwords: ~50-100 ms and 16 MiB on a small server. */
export const PASSWORD_SCRYPT = { N: 2 ** 14, r: 8, p: 1 } as const;

function scrypt(secret: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(secret.normalize('NFC'), salt, 32, { ...o, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

async function deriveKek(secret: string | Buffer, kdf: KdfParams): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  if (kdf.alg === 'none') {
    if (!Buffer.isBuffer(secret) || secret.length !== 32) throw new Error('master wrap needs a 32-byte key');
    return secret;
  }
  if (kdf.alg === 'scrypt') return scrypt(String(secret), salt, { N: kdf.N!, r: kdf.r!, p: kdf.p! });
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret), salt, 'haven-kek-v1', 32));
}

function aadFor(kind: WrapKind): Buffer {
  return Buffer.from(`haven-wrap-v1:${kind}`);
}

export async function wrapKey(kind: WrapKind, secret: string | Buffer, mailboxKey: Buffer): Promise<WrappedKey> {
  const salt = randomBytes(16).toString('base64');
  const kdf: KdfParams =
    kind === 'password'
      ? { alg: 'scrypt', salt, ...PASSWORD_SCRYPT }
      : kind === 'master'
        ? { alg: 'none', salt }
        : { alg: 'hkdf', salt };
  const kek = await deriveKek(secret, kdf);
  return { kind, kdf, blob: seal(kek, mailboxKey, aadFor(kind)).toString('base64') };
}

/** Returns the mailbox key, or throws DecryptError when the secret is wrong. */
export async function unwrapKey(wrapped: WrappedKey, secret: string | Buffer): Promise<Buffer> {
  const kek = await deriveKek(secret, wrapped.kdf);
  return open(kek, Buffer.from(wrapped.blob, 'base64'), aadFor(wrapped.kind));
}

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
