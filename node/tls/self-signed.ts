/**
 * @module node/tls/self-signed
 * The local run's certificate: a self-signed LEAF (CA:FALSE) for localhost,
 * 127.0.0.1, ::1 and the configured hostname. Not `openssl req -x509`'s
 * CA:TRUE default, which mbsync and others refuse when connecting by IP.
 * node:crypto makes the RSA key; node-forge (pure JS) builds and signs the
 * X.509 structure, which node:crypto cannot do.
 */
import { createPrivateKey, generateKeyPair, randomBytes, sign, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { CertificateError } from './errors.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface SelfSignedOptions {
  /** Added to the SANs beside localhost, 127.0.0.1 and ::1. */
  hostname?: string;
  /** Validity in days; 365 by default. */
  days?: number;
  now?: Date;
}

export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

/** Names every local certificate carries, so clients can connect by name or loopback IP. */
export const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'] as const;

export async function createSelfSignedCertificate(opts: SelfSignedOptions = {}): Promise<CertificatePair> {
  const now = opts.now ?? new Date();
  const days = opts.days ?? 365;
  const names = [...new Set([...LOCAL_NAMES, ...(opts.hostname ? [opts.hostname.toLowerCase()] : [])])];
  // RSA 2048: every client of the last decade accepts it, and forge signs only RSA.
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  // Positive 128-bit serial: the high bit cleared keeps the DER INTEGER positive.
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  // Back-dated an hour so a client whose clock is slightly behind accepts it at once.
  cert.validity.notBefore = new Date(now.getTime() - 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + days * 86400_000);
  const cn = opts.hostname && !isIP(opts.hostname) ? opts.hostname : 'localhost';
  const attrs = [
    { shortName: 'CN', value: cn },
    { shortName: 'O', value: 'Haven local (self-signed)' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'subjectKeyIdentifier' },
  ]);
  // What forge's cert.sign() does, with node:crypto doing the RSA signature
  // (forge's pure-JS RSA takes a few hundred milliseconds on a small server).
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
  cert.tbsCertificate = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, privateKey).toString('binary');
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export interface LocalCertificate extends CertificatePair {
  certFile: string;
  keyFile: string;
  /** True when this call made a new certificate. */
  created: boolean;
  /** Why a new one was made: 'missing', 'unreadable', 'expiring', 'hostname'. */
  reason?: string;
}

export interface EnsureLocalOptions {
  hostname?: string;
  now?: Date;
  /** Replace the certificate when it expires within this many days. Default 30. */
  renewDaysBefore?: number;
}

export const CERT_FILE = 'cert.pem';
export const KEY_FILE = 'key.pem';

/**
 * Returns the self-signed certificate in `dir`, making one on first run, and
 * a new one when the old one is unreadable, expires within 30 days or does
 * not cover the configured hostname. The key is written with mode 0600.
 */
export async function ensureLocalCertificate(dir: string, opts: EnsureLocalOptions = {}): Promise<LocalCertificate> {
  const certFile = join(dir, CERT_FILE);
  const keyFile = join(dir, KEY_FILE);
  const now = opts.now ?? new Date();
  const reason = reuseProblem(certFile, keyFile, opts.hostname, now, opts.renewDaysBefore ?? 30);
  if (reason === undefined) {
    return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), created: false };
  }
  const pair = await createSelfSignedCertificate({ hostname: opts.hostname, now });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Key first, then certificate, each replaced atomically: a watcher or a crash
  // in between never sees a certificate without its key.
  writeAtomic(keyFile, pair.keyPem, 0o600);
  writeAtomic(certFile, pair.certPem, 0o644);
  return { certFile, keyFile, ...pair, created: true, reason };
}

function reuseProblem(certFile: string, keyFile: string, hostname: string | undefined, now: Date, renewDays: number): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))) return 'unreadable';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
  if (new Date(cert.validTo).getTime() - now.getTime() < renewDays * 86400_000) return 'expiring';
  if (hostname && !certificateCovers(cert, hostname)) return 'hostname';
  return undefined;
}

/** Whether the certificate's SANs name `host` (exact, or one-label wildcard). */
export function certificateCovers(cert: X509Certificate, host: string): boolean {
  return isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
}

/** Writes a file whole or not at all, with `mode` even when it existed. */
export function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode, flag: 'w' });
    chmodSync(tmp, mode); // the umask may have narrowed or the file pre-existed
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    throw new CertificateError(`cannot write ${path}: ${(err as Error).message}; check that the data directory is writable`);
  }
}
