/**
 * ACME http-01 end to end through the node's own listeners: Pebble (a real
 * ACME CA) validates against startHttp's plain-HTTP port, and the HTTPS
 * port serves the issued certificate on the next handshake while a
 * connection opened before keeps working. Needs Debian's `pebble`.
 */
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startHttp, type HttpHandle } from '../../node/http/index.js';
import { AcmeManager, CertificateStore, createSelfSignedCertificate, Http01Responder, type CertificatePair } from '../../node/tls/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, type TestStore } from '../helpers/store.js';
import { startPebble, type Pebble } from '../tls/pebble.js';
import { SECRET } from './harness.js';

let t: TestStore;
let local: CertificatePair;
let certs: CertificateStore;
let server: HttpHandle;
let pebble: Pebble;
const responder = new Http01Responder();
const acmeDir = mkdtempSync(join(tmpdir(), 'haven-http-acme-'));

function get(path: string, opts: https.RequestOptions): Promise<{ status: number; body: string; fingerprint: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: server.httpsPort, path, ...opts }, (res) => {
      const sock = res.socket as TLSSocket;
      const fingerprint = sock.getPeerCertificate().fingerprint256;
      const authorized = sock.authorized;
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, fingerprint, authorized }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  t = makeTestStore();
  local = await createSelfSignedCertificate();
  certs = new CertificateStore(local.certPem, local.keyPem);
  server = await startHttp({
    store: t.store,
    tls: certs,
    config: testConfig(t.dataDir, { hostname: 'mail.haven.test' }),
    log: silentLogger,
    authLimiter: new AuthLimiter(),
    adminSecret: SECRET,
    challenges: responder,
    healthCacheMs: 0,
  });
  pebble = await startPebble(server.httpPort!);
});

afterAll(async () => {
  await server?.close();
  certs?.close();
  pebble?.stop();
  t?.cleanup();
  rmSync(acmeDir, { recursive: true, force: true });
});

it('issues through the plain-HTTP listener and serves the new certificate on HTTPS without a restart', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const before = await get('/health', { agent, ca: local.certPem, servername: 'localhost' });
  expect(before.status).toBe(200);
  expect(JSON.parse(before.body).certificate.daysLeft).toBeGreaterThan(300);

  const manager = new AcmeManager(
    { directoryUrl: pebble.directoryUrl, directoryCa: pebble.tlsCa, domains: ['mail.haven.test'], dir: acmeDir, solver: responder, renewDaysBefore: 30, pollMs: 50 },
    certs,
  );
  expect(await manager.renewIfDue()).toBe('issued');

  const root = await pebble.issuerRoot();
  const after = await get('/health', { agent: false, ca: root, servername: 'mail.haven.test' });
  expect(after.authorized).toBe(true);
  expect(after.fingerprint).toBe(certs.info.fingerprint256);
  expect(after.fingerprint).not.toBe(before.fingerprint);
  expect(JSON.parse(after.body).certificate.subject).toContain('mail.haven.test');

  // The connection opened before the renewal still answers, with its old certificate.
  const old = await get('/health', { agent, ca: local.certPem, servername: 'localhost' });
  expect(old.status).toBe(200);
  expect(old.fingerprint).toBe(before.fingerprint);
  agent.destroy();
}, 60_000);
