/**
 * @module node/smtp/dkim
 * DKIM signing of submitted mail (RFC 6376, relaxed/relaxed) with every
 * active key of the From domain: RSA-SHA256, plus Ed25519-SHA256 (RFC 8463)
 * as a second signature when the domain has one.
 */
import { dkimSign } from 'mailauth';
import type { DkimKey } from '../store/index.js';

/** Returns the DKIM-Signature header lines to prepend ('' when the domain has no key). */
export async function signMessage(raw: Buffer, domain: string, keys: readonly DkimKey[]): Promise<string> {
  const active = keys.filter((k) => k.active);
  if (active.length === 0) return '';
  const res = await dkimSign(raw, {
    canonicalization: 'relaxed/relaxed',
    signingDomain: domain,
    selector: active[0].selector,
    privateKey: active[0].privateKeyPem,
    signatureData: active.map((k) => ({
      signingDomain: domain,
      selector: k.selector,
      privateKey: k.privateKeyPem,
      algorithm: k.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
      canonicalization: 'relaxed/relaxed',
    })),
  });
  if (res.errors.length > 0) throw res.errors[0];
  return res.signatures;
}
