/**
 * @module test/tls/acme
 * ACME issuance and renewal against a real CA (Pebble) over HTTP-01 on
 * loopback: the certificate reaches a live TLS listener without a restart,
 * a connection made before keeps working, and renewal only happens when due.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeManager, CertificateStore, createSelfSignedCertificate, Http01Responder, openCertificateStore, type CertificatePair } from '../../node/tls/index.js';
import { testConfig } from '../../node/config/index.js';
import { startPebble, type Pebble } from './pebble.js';

const dir = mkdtempSync(join(tmpdir(), 'haven-acme-'));
const responder = new Http01Responder();
const served: string[] = [];
let httpServer: http.Server;
let tlsServer: tls.Server;
let tlsPort: number;
let pebble: Pebble;
let local: CertificatePair;
let store: CertificateStore;

beforeAll(async () => {
  // The node's plain HTTP listener: challenge answers, 404 for anything else.
  httpServer = http.createServer((req, res) => {
    if (responder.handle(req, res)) {
      served.push(req.url ?? '');
      return;
    }
    res.writeHead(404).end();
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  pebble = await startPebble((httpServer.address() as net.AddressInfo).port);

  local = await createSelfSignedCertificate();
  store = new CertificateStore(local.certPem, local.keyPem);
  tlsServer = tls.createServer(store.serverOptions(), (sock) => {
    sock.on('error', () => sock.destroy());
    sock.pipe(sock);
  });
  store.attach(tlsServer);
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  tlsPort = (tlsServer.address() as net.AddressInfo).port;
});

afterAll(() => {
  tlsServer?.close();
  httpServer?.close();
  pebble?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const sock = tls.connect({ port: tlsPort, host: '127.0.0.1', ...opts });
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

describe('ACME against Pebble', () => {
  it('issues over HTTP-01, installs without a restart, renews only when due', async () => {
    const manager = new AcmeManager(
      { directoryUrl: pebble.directoryUrl, directoryCa: pebble.tlsCa, domains: ['mail.haven.test', 'haven.test'], dir, solver: responder, renewDaysBefore: 30, pollMs: 50, email: 'postmaster@haven.test' },
      store,
    );
    const before = await connect({ ca: local.certPem, servername: 'localhost' });
    expect(await roundTrip(before, 'self-signed')).toBe('self-signed');
    expect(manager.isDue()).toBe(true);

    const issued = once(manager, 'issued');
    expect(await manager.renewIfDue()).toBe('issued');
    const [info] = await issued;
    // One token per name, fetched by the CA from our HTTP server (possibly several times: Pebble validates from more than one perspective).
    expect(new Set(served).size).toBe(2);
    expect(served.every((u) => u.startsWith('/.well-known/acme-challenge/'))).toBe(true);
    expect(responder.get(served[0].split('/').pop()!)).toBeUndefined(); // cleaned up

    const root = await pebble.issuerRoot();
    const after = await connect({ ca: root, servername: 'mail.haven.test' });
    expect(after.authorized).toBe(true);
    const leaf = after.getPeerCertificate();
    expect(leaf.fingerprint256).toBe(info.fingerprint256);
    expect(leaf.subjectaltname).toContain('DNS:haven.test');
    expect(await roundTrip(before, 'still up')).toBe('still up'); // not dropped
    expect(before.getPeerCertificate().fingerprint256).toBe(new X509Certificate(local.certPem).fingerprint256);

    expect(statSync(manager.keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'account-key.pem')).mode & 0o777).toBe(0o600);
    expect(manager.current()?.certPem).toBe(readFileSync(manager.certFile, 'utf8'));
    const accountKey = readFileSync(join(dir, 'account-key.pem'), 'utf8');

    // Not due: nothing happens.
    const fetches = served.length;
    expect(await manager.renewIfDue()).toBe('current');
    expect(served.length).toBe(fetches);

    // Within renewDaysBefore of expiry: a new certificate, same account.
    const validTo = new Date(new X509Certificate(readFileSync(manager.certFile)).validTo);
    expect(await manager.renewIfDue(new Date(validTo.getTime() - 10 * 86400_000))).toBe('issued');
    expect(new Set(served).size).toBe(4);
    const renewed = await connect({ ca: root, servername: 'haven.test' });
    expect(renewed.getPeerCertificate().fingerprint256).not.toBe(info.fingerprint256);
    expect(await roundTrip(after, 'older still up')).toBe('older still up');
    expect(readFileSync(join(dir, 'account-key.pem'), 'utf8')).toBe(accountKey);
    for (const s of [before, after, renewed]) s.destroy();
  });

  it('a validation the CA cannot complete is a CertificateError naming the fix; the old certificate stays', async () => {
    const current = store.info.fingerprint256;
    const broken = new AcmeManager({ directoryUrl: pebble.directoryUrl, directoryCa: pebble.tlsCa, domains: ['other.haven.test'], dir: join(dir, 'broken'), solver: new Http01Responder(), renewDaysBefore: 30, pollMs: 50 }, store);
    await expect(broken.renewIfDue()).rejects.toThrow(/ACME certificate request failed: .*ports\.http is reachable/);
    expect(store.info.fingerprint256).toBe(current);
  });

  it('extra names: covered when they prove out, left out with a warning (and retried a day later) when they do not', async () => {
    // bad.haven.test resolves elsewhere for the CA, as a domain whose DNS is not pointed at the node yet.
    const res = await fetch(`${pebble.challtestsrvUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: 'mta-sts.bad.haven.test.', addresses: ['127.0.0.2'] }) });
    expect(res.ok).toBe(true);
    let wanted = ['mta-sts.haven.test', 'mta-sts.bad.haven.test'];
    const manager = new AcmeManager({ directoryUrl: pebble.directoryUrl, directoryCa: pebble.tlsCa, domains: ['mail.haven.test'], extraDomains: () => wanted, dir: join(dir, 'extras'), solver: responder, renewDaysBefore: 30, pollMs: 50 });
    const warned = once(manager, 'warning') as Promise<[Error]>;
    expect(await manager.renewIfDue()).toBe('issued');
    const [w] = await warned;
    expect(w.message).toMatch(/^left mta-sts\.bad\.haven\.test out of the certificate \(mta-sts\.bad\.haven\.test: .+\); point those names at this node \(CNAME to mail\.haven\.test\) and it tries again in a day$/);
    const cert = new X509Certificate(manager.current()!.certPem);
    expect(cert.subjectAltName).toBe('DNS:mail.haven.test, DNS:mta-sts.haven.test');
    // Not retried within the day; retried after it; a new domain's names make it due at once.
    expect(manager.isDue()).toBe(false);
    expect(manager.isDue(new Date(Date.now() + 25 * 3600_000))).toBe(true);
    wanted = [...wanted, 'autoconfig.haven.test'];
    expect(manager.isDue()).toBe(true);
    wanted = ['mta-sts.haven.test'];
    expect(manager.isDue()).toBe(false);
  });

  it('openCertificateStore: self-signed until the first issuance, the ACME certificate on later starts', async () => {
    const dataDir = join(dir, 'node-data');
    const config = testConfig(dataDir, { hostname: 'node.haven.test', tls: { acme: { enabled: true, directoryUrl: pebble.directoryUrl } } });
    const first = await openCertificateStore(config, { responder, acmeDirectoryCa: pebble.tlsCa, acmePollMs: 50 });
    expect(first.source).toBe('self-signed');
    expect(first.store.info.selfSigned).toBe(true);
    expect(await first.acme!.renewIfDue()).toBe('issued');
    expect(first.store.info.selfSigned).toBe(false);
    expect(first.store.certificate.checkHost('node.haven.test')).toBe('node.haven.test');
    first.store.close();

    const second = await openCertificateStore(config, { responder, acmeDirectoryCa: pebble.tlsCa });
    second.store.close();
    expect(second.source).toBe('acme');
    expect(second.certFile).toBe(join(dataDir, 'tls', 'acme', 'cert.pem'));
    expect(second.store.info.fingerprint256).toBe(first.store.info.fingerprint256);
    expect(await second.acme!.renewIfDue()).toBe('current');
  });
});
