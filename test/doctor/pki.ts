/**
 * @module test/doctor/pki
 * A throwaway CA for the doctor tests: certificates that are not
 * self-signed (the node's, MTA-STS policy hosts'), valid or expired.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface Issued {
  certPem: string;
  keyPem: string;
}

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    forgePriv: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string),
    forgePub: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string),
  };
}

export class TestCa {
  readonly certPem: string;
  readonly #key: forge.pki.rsa.PrivateKey;
  readonly #cert: forge.pki.Certificate;
  /** One key for every leaf: RSA key generation is the slow part, and the tests only care about names and dates. */
  readonly #leaf = keyPair();

  constructor() {
    const k = keyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = k.forgePub;
    cert.serialNumber = '01' + randomBytes(8).toString('hex');
    cert.validity.notBefore = new Date(Date.now() - 86400_000);
    cert.validity.notAfter = new Date(Date.now() + 3650 * 86400_000);
    const name = [{ shortName: 'CN', value: 'Haven doctor test CA' }];
    cert.setSubject(name);
    cert.setIssuer(name);
    cert.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]);
    cert.sign(k.forgePriv, forge.md.sha256.create());
    this.#key = k.forgePriv;
    this.#cert = cert;
    this.certPem = forge.pki.certificateToPem(cert);
  }

  issue(names: readonly string[], validity: { notBefore?: Date; notAfter?: Date } = {}): Issued {
    const k = this.#leaf;
    const cert = forge.pki.createCertificate();
    cert.publicKey = k.forgePub;
    cert.serialNumber = '02' + randomBytes(8).toString('hex');
    cert.validity.notBefore = validity.notBefore ?? new Date(Date.now() - 86400_000);
    cert.validity.notAfter = validity.notAfter ?? new Date(Date.now() + 80 * 86400_000);
    cert.setSubject([{ shortName: 'CN', value: names[0] }]);
    cert.setIssuer(this.#cert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
    ]);
    cert.sign(this.#key, forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(cert), keyPem: k.keyPem };
  }
}
