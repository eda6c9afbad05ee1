/**
 * @module node/crypto/sealed-box
 * The sealed inbox: mail for a locked mailbox is encrypted to the mailbox's
 * X25519 public key with a fresh ephemeral key pair, so the server can accept
 * mail it can no longer read. Layout: version(1) || ephemeralPublic(32) ||
 * aead(nonce || ciphertext || tag). The AEAD key is HKDF over the ECDH secret,
 * salted with both public keys so a box is bound to its recipient.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import { DecryptError, open, seal } from './aead.js';

const VERSION = 1;
const INFO = Buffer.from('haven-sealed-inbox-v1');

export interface BoxKeyPair {
  publicKey: Buffer; // raw 32 bytes
  privateKey: Buffer; // raw 32 bytes
}

const b64u = (b: Buffer) => b.toString('base64url');

function publicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(raw) }, format: 'jwk' });
}

function privateKeyObject(priv: Buffer, pub: Buffer): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(pub), d: b64u(priv) }, format: 'jwk' });
}

export function generateBoxKeyPair(): BoxKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { publicKey: Buffer.from(jwk.x!, 'base64url'), privateKey: Buffer.from(jwk.d!, 'base64url') };
  void publicKey;
}

function boxKey(shared: Buffer, ephemeralPublic: Buffer, recipientPublic: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralPublic, recipientPublic]), INFO, 32));
}

export function sealTo(recipientPublic: Buffer, plaintext: Buffer): Buffer {
  const eph = generateBoxKeyPair();
  const shared = diffieHellman({
    privateKey: privateKeyObject(eph.privateKey, eph.publicKey),
    publicKey: publicKeyObject(recipientPublic),
  });
  const key = boxKey(shared, eph.publicKey, recipientPublic);
  return Buffer.concat([Buffer.from([VERSION]), eph.publicKey, seal(key, plaintext)]);
}

export function openSealed(pair: BoxKeyPair, box: Buffer): Buffer {
  if (box.length < 1 + 32 + 28 || box[0] !== VERSION) throw new DecryptError('sealed message has an unknown format');
  const ephPublic = box.subarray(1, 33);
  const shared = diffieHellman({
    privateKey: privateKeyObject(pair.privateKey, pair.publicKey),
    publicKey: publicKeyObject(Buffer.from(ephPublic)),
  });
  return open(boxKey(shared, Buffer.from(ephPublic), pair.publicKey), box.subarray(33));
}
