/**
 * @module node/crypto/aead
 * ChaCha20-Poly1305 sealing of small secrets (wrapped keys, sealed mail).
 * Layout: nonce(12) || ciphertext || tag(16). The associated data binds a
 * blob to its purpose so a wrapped key cannot be replayed as another kind.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const NONCE = 12;
const TAG = 16;

export class DecryptError extends Error {
  constructor(message = 'decryption failed: wrong key or damaged data') {
    super(message);
    this.name = 'DecryptError';
  }
}

export function seal(key: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  if (aad) cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

export function open(key: Buffer, sealed: Buffer, aad?: Buffer): Buffer {
  if (sealed.length < NONCE + TAG) throw new DecryptError('sealed data is truncated');
  const nonce = sealed.subarray(0, NONCE);
  const tag = sealed.subarray(sealed.length - TAG);
  const body = sealed.subarray(NONCE, sealed.length - TAG);
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  if (aad) decipher.setAAD(aad, { plaintextLength: body.length });
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new DecryptError();
  }
}
