/**
 * @module test/tls/self-signed
 * The local certificate: a leaf (CA:FALSE) with the loopback names, a
 * private key only its owner can read, reused across runs and replaced when
 * it no longer fits.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLocalCertificate } from '../../node/tls/index.js';

const root = mkdtempSync(join(tmpdir(), 'haven-tls-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${n++}`, 'tls');

describe('ensureLocalCertificate', () => {
  it('makes a leaf certificate for localhost, 127.0.0.1, ::1 and the hostname', async () => {
    const dir = freshDir();
    const now = new Date('2026-03-01T12:00:00Z');
    const local = await ensureLocalCertificate(dir, { hostname: 'mail.example.test', now });
    expect(local.created).toBe(true);
    expect(local.reason).toBe('missing');

    const cert = new X509Certificate(readFileSync(local.certFile));
    expect(cert.ca).toBe(false);
    expect(cert.subjectAltName?.split(', ')).toEqual(['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1', 'DNS:mail.example.test']);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // node reports extKeyUsage here: serverAuth
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(new Date(cert.validTo).getTime() - now.getTime()).toBe(365 * 86400_000);
    expect(new Date(cert.validFrom).getTime()).toBeLessThanOrEqual(now.getTime());

    // node:crypto does not expose keyUsage bits or the criticality; read them with forge.
    const parsed = forge.pki.certificateFromPem(local.certPem);
    expect(parsed.getExtension('basicConstraints')).toMatchObject({ cA: false, critical: true });
    expect(parsed.getExtension('keyUsage')).toMatchObject({ critical: true, digitalSignature: true, keyEncipherment: true, keyCertSign: false });
    expect(parsed.getExtension('extKeyUsage')).toMatchObject({ serverAuth: true });

    expect(statSync(local.keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('reuses the certificate on later runs', async () => {
    const dir = freshDir();
    const first = await ensureLocalCertificate(dir);
    const again = await ensureLocalCertificate(dir);
    expect(again.created).toBe(false);
    expect(again.certPem).toBe(first.certPem);
    expect(again.keyPem).toBe(first.keyPem);
  });

  it('replaces it when the hostname is not covered, it is about to expire, or it is unreadable', async () => {
    const dir = freshDir();
    const first = await ensureLocalCertificate(dir);
    const renamed = await ensureLocalCertificate(dir, { hostname: 'other.example.test' });
    expect(renamed).toMatchObject({ created: true, reason: 'hostname' });
    expect(new X509Certificate(renamed.certPem).checkHost('other.example.test')).toBe('other.example.test');
    expect(renamed.certPem).not.toBe(first.certPem);

    const later = new Date(Date.now() + 340 * 86400_000);
    expect(await ensureLocalCertificate(dir, { hostname: 'other.example.test', now: later })).toMatchObject({ created: true, reason: 'expiring' });

    writeFileSync(join(dir, 'cert.pem'), 'not a certificate');
    const repaired = await ensureLocalCertificate(dir);
    expect(repaired).toMatchObject({ created: true, reason: 'unreadable' });
    expect(new X509Certificate(readFileSync(repaired.certFile)).checkPrivateKey(createPrivateKey(readFileSync(repaired.keyFile)))).toBe(true);
    expect(statSync(repaired.keyFile).mode & 0o777).toBe(0o600);
  });
});
