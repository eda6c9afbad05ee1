/**
 * @module test/tls/store
 * The certificate store behind every listener, over real sockets: clients
 * that trust the self-signed certificate verify it by name and by IP, TLS
 * 1.2 and 1.3 are both offered, and a new certificate (by `reload` or by the
 * files being replaced) reaches new handshakes on implicit-TLS and STARTTLS
 * listeners while an established connection keeps working.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CertificateError, CertificateStore, createSelfSignedCertificate, openCertificateStore, type CertificatePair } from '../../node/tls/index.js';
import { testConfig } from '../../node/config/index.js';

const root = mkdtempSync(join(tmpdir(), 'haven-tls-store-'));
let a: CertificatePair;
let b: CertificatePair;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([createSelfSignedCertificate({ hostname: 'a.example.test' }), createSelfSignedCertificate({ hostname: 'b.example.test' })]);
});
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** An echo server over implicit TLS using the store, on 127.0.0.1 port 0. */
async function echoServer(store: CertificateStore): Promise<number> {
  const server = tls.createServer(store.serverOptions(), (sock) => {
    sock.on('error', () => sock.destroy());
    sock.pipe(sock);
  });
  store.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

async function connect(port: number, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const sock = tls.connect({ port, host: '127.0.0.1', ...opts });
  cleanup.push(() => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', resolve);
    sock.once('error', reject);
  });
  return sock;
}

async function roundTrip(sock: tls.TLSSocket, text: string): Promise<string> {
  sock.write(text);
  const [data] = (await once(sock, 'data')) as [Buffer];
  return data.toString();
}

describe('CertificateStore over real TLS', () => {
  it('verifies with the self-signed leaf as CA, by IP and by name', async () => {
    const port = await echoServer(new CertificateStore(a.certPem, a.keyPem));
    const byIp = await connect(port, { ca: a.certPem });
    expect(byIp.authorized).toBe(true);
    expect(await roundTrip(byIp, 'ping')).toBe('ping');
    const byName = await connect(port, { ca: a.certPem, servername: 'localhost' });
    expect(byName.authorized).toBe(true);
    const byOtherName = await connect(port, { ca: a.certPem, servername: 'a.example.test' });
    expect(byOtherName.authorized).toBe(true);
    await expect(connect(port, { ca: a.certPem, servername: 'wrong.example.test' })).rejects.toThrow(/not in the cert's altnames/);
    await expect(connect(port, { ca: b.certPem })).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('offers TLS 1.3 and TLS 1.2, nothing older', async () => {
    const port = await echoServer(new CertificateStore(a.certPem, a.keyPem));
    expect((await connect(port, { ca: a.certPem })).getProtocol()).toBe('TLSv1.3');
    expect((await connect(port, { ca: a.certPem, maxVersion: 'TLSv1.2' })).getProtocol()).toBe('TLSv1.2');
    await expect(connect(port, { ca: a.certPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })).rejects.toThrow();
  });

  it('after reload(), an established connection keeps working and new ones see the new certificate', async () => {
    const store = new CertificateStore(a.certPem, a.keyPem);
    const port = await echoServer(store);
    const old = await connect(port, { ca: a.certPem });
    expect(await roundTrip(old, 'before')).toBe('before');

    const reloaded = once(store, 'reload');
    const info = store.reload(b.certPem, b.keyPem);
    expect((await reloaded)[0]).toEqual(info);
    expect(info.fingerprint256).toBe(fingerprint(b.certPem));

    expect(await roundTrip(old, 'after')).toBe('after');
    expect(old.getPeerCertificate().fingerprint256).toBe(fingerprint(a.certPem));

    const fresh = await connect(port, { ca: b.certPem });
    expect(fresh.getPeerCertificate().fingerprint256).toBe(fingerprint(b.certPem));
    const freshSni = await connect(port, { ca: b.certPem, servername: 'localhost' });
    expect(freshSni.getPeerCertificate().fingerprint256).toBe(fingerprint(b.certPem));
    await expect(connect(port, { ca: a.certPem })).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('STARTTLS upgrades use the current context', async () => {
    const store = new CertificateStore(a.certPem, a.keyPem);
    // A minimal STARTTLS server: plain greeting, then TLS with store.context.
    const server = net.createServer((plain) => {
      plain.on('error', () => plain.destroy());
      plain.write('OK ready\r\n');
      plain.once('data', () => {
        plain.write('OK begin TLS\r\n', () => {
          const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: store.context });
          secure.on('error', () => secure.destroy());
          secure.pipe(secure);
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => server.close());
    const port = (server.address() as net.AddressInfo).port;

    const starttls = async (ca: string) => {
      const plain = net.connect(port, '127.0.0.1');
      cleanup.push(() => plain.destroy());
      await once(plain, 'data'); // greeting
      plain.write('STARTTLS\r\n');
      await once(plain, 'data');
      const secure = tls.connect({ socket: plain, ca, servername: 'localhost' });
      await once(secure, 'secureConnect');
      cleanup.push(() => secure.destroy());
      return secure;
    };
    const first = await starttls(a.certPem);
    expect(first.getPeerCertificate().fingerprint256).toBe(fingerprint(a.certPem));
    store.reload(b.certPem, b.keyPem);
    const second = await starttls(b.certPem);
    expect(second.getPeerCertificate().fingerprint256).toBe(fingerprint(b.certPem));
    expect(await roundTrip(first, 'still here')).toBe('still here');
  });

  it('refuses a key that does not belong to the certificate, keeping the old one', async () => {
    const store = new CertificateStore(a.certPem, a.keyPem);
    expect(() => store.reload(b.certPem, a.keyPem)).toThrow(CertificateError);
    expect(() => store.reload(b.certPem, a.keyPem)).toThrow(/does not belong to the certificate/);
    expect(() => store.reload('garbage', a.keyPem)).toThrow(/not a PEM X.509 certificate/);
    expect(() => new CertificateStore(a.certPem, 'garbage')).toThrow(/not a readable unencrypted PEM key/);
    expect(store.info.fingerprint256).toBe(fingerprint(a.certPem));
  });

  it('reports days until expiry', () => {
    const store = new CertificateStore(a.certPem, a.keyPem);
    const validTo = store.info.validTo.getTime();
    expect(store.daysUntilExpiry(new Date(validTo - 30 * 86400_000))).toBe(30);
    expect(store.daysUntilExpiry(new Date(validTo - 30 * 86400_000 + 1))).toBe(29);
    expect(store.daysUntilExpiry(new Date(validTo + 86400_000))).toBe(-1);
    expect(store.daysUntilExpiry()).toBeGreaterThanOrEqual(364);
    expect(store.info.selfSigned).toBe(true);
  });
});

describe('watching the certificate files', () => {
  it('picks up a replaced pair without a restart; a mismatched pair is a warning, not an outage', async () => {
    const dir = mkdtempSync(join(root, 'watch-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    writeFileSync(certFile, a.certPem);
    writeFileSync(keyFile, a.keyPem);
    const store = await CertificateStore.fromFiles(certFile, keyFile, { watch: true });
    cleanup.push(() => store.close());
    const port = await echoServer(store);
    const old = await connect(port, { ca: a.certPem });

    // A key that does not match: warned about, old certificate still served.
    const warned = once(store, 'warning');
    writeFileSync(join(dir, 'key.tmp'), b.keyPem);
    renameSync(join(dir, 'key.tmp'), keyFile);
    expect((await warned)[0]).toBeInstanceOf(CertificateError);
    expect((await connect(port, { ca: a.certPem })).authorized).toBe(true);

    // The matching certificate arrives the way renewal tools write it: by rename.
    const reloaded = once(store, 'reload');
    writeFileSync(join(dir, 'cert.tmp'), b.certPem);
    renameSync(join(dir, 'cert.tmp'), certFile);
    const [info] = await reloaded;
    expect(info.fingerprint256).toBe(fingerprint(b.certPem));
    const fresh = await connect(port, { ca: b.certPem });
    expect(fresh.getPeerCertificate().fingerprint256).toBe(fingerprint(b.certPem));
    expect(await roundTrip(old, 'old connection')).toBe('old connection');
  });
});

describe('openCertificateStore', () => {
  it('makes the local certificate in <dataDir>/tls on first start and reuses it after', async () => {
    const dataDir = mkdtempSync(join(root, 'data-'));
    const first = await openCertificateStore(testConfig(dataDir));
    first.store.close();
    expect(first).toMatchObject({ source: 'self-signed', created: true, certFile: join(dataDir, 'tls', 'cert.pem') });
    const second = await openCertificateStore(testConfig(dataDir));
    second.store.close();
    expect(second.created).toBe(false);
    expect(second.store.info.fingerprint256).toBe(first.store.info.fingerprint256);
  });

  it('serves tls.certFile / tls.keyFile when given', async () => {
    const dir = mkdtempSync(join(root, 'given-'));
    writeFileSync(join(dir, 'c.pem'), b.certPem);
    writeFileSync(join(dir, 'k.pem'), b.keyPem);
    const opened = await openCertificateStore(testConfig(join(dir, 'data'), { tls: { certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem') } }));
    opened.store.close();
    expect(opened.source).toBe('files');
    expect(opened.store.info.fingerprint256).toBe(fingerprint(b.certPem));
  });
});
