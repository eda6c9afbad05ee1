/**
 * @module node/replication/carried-cert
 * The mail host's certificate and key, carried through the replica so a
 * promoted standby serves them the moment it starts (issue 19). The
 * alternative, asking the CA after the Floating IPs move, leaves IMAP and
 * SMTP clients facing a self-signed certificate for as long as issuance
 * takes, and fails outright when the CA cannot reach the new node yet or
 * its rate limit (five duplicate certificates a week at Let's Encrypt) is
 * spent by repeated failovers; the replica already holds everything the
 * standby needs to become the primary, under the same master key.
 *
 * One object, `tls/mail-host`, sealed with ChaCha20-Poly1305 under a key
 * derived from the master key (HKDF, its own label, so the sealed blob is
 * of no use as anything else): nothing readable reaches the store. Only the
 * primary writes it, through the fence's guard, whenever its ACME manager
 * installs a certificate and at start.
 */
import { hkdfSync } from 'node:crypto';
import { open, seal } from '../crypto/index.js';
import type { ReplicaTarget } from './target.js';

export const CARRIED_CERT_KEY = 'tls/mail-host';
const LABEL = Buffer.from('haven replica: carried mail-host certificate v1');

export interface CarriedCertificate {
  certPem: string;
  keyPem: string;
}

function carryKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), LABEL, 32));
}

export async function shipCertificate(target: ReplicaTarget, masterKey: Buffer, pair: CarriedCertificate): Promise<void> {
  const body = Buffer.from(JSON.stringify({ certPem: pair.certPem, keyPem: pair.keyPem }));
  await target.put(CARRIED_CERT_KEY, seal(carryKey(masterKey), body, LABEL));
}

function isMissing(err: unknown): boolean {
  const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.code === 'ENOENT' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** The carried pair, or null when the primary never shipped one. A blob that does not open (another master key) throws DecryptError. */
export async function fetchCarriedCertificate(target: ReplicaTarget, masterKey: Buffer): Promise<CarriedCertificate | null> {
  let sealed: Buffer;
  try {
    sealed = await target.get(CARRIED_CERT_KEY);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  const v = JSON.parse(open(carryKey(masterKey), sealed, LABEL).toString('utf8')) as Partial<CarriedCertificate>;
  if (typeof v.certPem !== 'string' || typeof v.keyPem !== 'string') throw new Error(`${CARRIED_CERT_KEY} in the replica is not a certificate and key`);
  return { certPem: v.certPem, keyPem: v.keyPem };
}
