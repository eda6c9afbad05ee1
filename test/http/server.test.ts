/**
 * startHttp over real sockets: HTTPS with the test certificate (health, a
 * signed admin call whose path carries a percent-encoded address, DAV),
 * certificate hot reload per handshake while an open connection keeps its
 * certificate, and the plain-HTTP listener (ACME http-01 from node/tls's
 * responder, redirect to HTTPS).
 */
import http from 'node:http';
import netModule from 'node:net';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startHttp, type HttpHandle } from '../../node/http/index.js';
import { signRequest } from '../../node/http/signature.js';
import { CertificateStore, createSelfSignedCertificate, Http01Responder } from '../../node/tls/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { metrics } from '../../node/util/metrics.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';
import { SECRET } from './harness.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  fingerprint?: string;
}

let t: TestStore;
let tlsStore: CertificateStore;
let server: HttpHandle;
const responder = new Http01Responder();
const { cert } = testTls();

function request(opts: https.RequestOptions & { body?: string; secure?: boolean }): Promise<Reply> {
  const { body, secure = true, ...rest } = opts;
  return new Promise((resolve, reject) => {
    const lib = secure ? https : http;
    const req = lib.request(
      { host: '127.0.0.1', port: secure ? server.httpsPort : server.httpPort!, ...(secure ? { ca: cert, servername: 'localhost' } : {}), ...rest },
      (res) => {
        const fingerprint = secure ? (res.socket as TLSSocket).getPeerCertificate().fingerprint256 : undefined;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            fingerprint,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  t = makeTestStore();
  const { key } = testTls();
  tlsStore = new CertificateStore(cert.toString(), key.toString());
  const config = testConfig(t.dataDir, { hostname: 'mail.example.org' });
  server = await startHttp({
    store: t.store,
    tls: tlsStore,
    config,
    log: silentLogger,
    authLimiter: new AuthLimiter({ stepDelayMs: 1, maxDelayMs: 5 }),
    adminSecret: SECRET,
    challenges: responder,
    publicAddresses: { ipv4: '192.0.2.10', ipv6: '2001:db8::10' },
  });
});

afterAll(async () => {
  await server?.close();
  tlsStore?.close();
  t?.cleanup();
});

describe('HTTPS listener', () => {
  it('serves /health and /metrics over TLS and counts the connections', async () => {
    const before = metrics.connections.get({ protocol: 'https' });
    const res = await request({ path: '/health', agent: false });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ ok: true, store: { ok: true }, certificate: { subject: 'CN=localhost' } });
    const m = await request({ path: '/metrics', agent: false });
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.connections.get({ protocol: 'https' })).toBeGreaterThanOrEqual(before + 2);
  });

  it('verifies signatures against the request target as sent, percent-encoding and query included', async () => {
    const body = JSON.stringify({ name: 'example.org' });
    let headers = await signRequest(SECRET, { method: 'POST', path: '/api/v1/domains', body });
    expect((await request({ method: 'POST', path: '/api/v1/domains', headers: { ...headers, 'content-type': 'application/json' }, body })).status).toBe(201);

    await addAccount(t.store, 'alice@example.org');
    const path = `/api/v1/accounts/${encodeURIComponent('alice@example.org')}/app-passwords?x=%27y%27`;
    headers = await signRequest(SECRET, { method: 'GET', path });
    const res = await request({ path, headers });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ appPasswords: [] });

    // The same call signed over the decoded path is refused.
    headers = await signRequest(SECRET, { method: 'GET', path: decodeURIComponent(path) });
    const bad = await request({ path, headers });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body).error).toMatch(/signature does not match/);
  });

  it('keeps DAV working: discovery redirect, OPTIONS, and an authenticated PROPFIND', async () => {
    const wk = await request({ path: '/.well-known/caldav', method: 'PROPFIND' });
    expect(wk.status).toBe(308);
    expect(wk.headers.location).toBe('/dav/');
    const opt = await request({ path: '/dav/', method: 'OPTIONS' });
    expect(opt.status).toBe(200);
    expect(opt.headers.dav).toContain('calendar-access');
    const noAuth = await request({ path: '/dav/', method: 'PROPFIND', headers: { Depth: '0' } });
    expect(noAuth.status).toBe(401);
    const auth = 'Basic ' + Buffer.from('alice@example.org:correct horse battery').toString('base64');
    const principal = (path: string) =>
      request({
        path,
        method: 'PROPFIND',
        headers: { Depth: '0', Authorization: auth, 'Content-Type': 'application/xml' },
        body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>',
      });
    const pf = await principal('/dav/');
    expect(pf.status).toBe(207);
    expect(pf.body).toContain('alice@example.org');
    // RFC 6764 §6: a client with no context path asks the server root; the node's app hands it to DAV.
    const root = await principal('/');
    expect(root.status).toBe(207);
    expect(root.body).toContain('<d:current-user-principal><d:href>/dav/principals/alice@example.org/</d:href>');
    expect((await request({ path: '/', method: 'GET' })).status).toBe(404);
  });

  it('answers a new handshake with a reloaded certificate while an open connection keeps the old one', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request({ path: '/health', agent });
    const oldFp = first.fingerprint;
    expect(oldFp).toBe(tlsStore.info.fingerprint256);
    const pair = await createSelfSignedCertificate({ hostname: 'mail.example.org' });
    tlsStore.reload(pair.certPem, pair.keyPem);
    // Same keep-alive socket: no new handshake, old certificate.
    const again = await request({ path: '/health', agent });
    expect(again.fingerprint).toBe(oldFp);
    // New connection, with and without SNI: the new certificate.
    const fresh = await request({ path: '/health', ca: pair.certPem, servername: 'mail.example.org' });
    expect(fresh.status).toBe(200);
    expect(fresh.fingerprint).toBe(tlsStore.info.fingerprint256);
    expect(fresh.fingerprint).not.toBe(oldFp);
    const noSni = await request({ path: '/health', ca: pair.certPem, servername: '', checkServerIdentity: () => undefined });
    expect(noSni.fingerprint).toBe(fresh.fingerprint);
    agent.destroy();
  });
});

describe('plain HTTP listener', () => {
  it('serves pending ACME http-01 challenges from node/tls\'s responder', async () => {
    responder.set('tok_EN-123', 'tok_EN-123.thumbprint');
    const res = await request({ secure: false, path: '/.well-known/acme-challenge/tok_EN-123' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('tok_EN-123.thumbprint');
    responder.delete('tok_EN-123');
    expect((await request({ secure: false, path: '/.well-known/acme-challenge/tok_EN-123' })).status).toBe(404);
    expect((await request({ secure: false, path: '/.well-known/acme-challenge/..%2F..%2Fetc' })).status).toBe(404);
  });

  it('redirects everything else to HTTPS on the configured hostname, never the Host header', async () => {
    const res = await request({ secure: false, path: '/dav/x?y=1', headers: { Host: 'evil.example' } });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe(`https://mail.example.org:${server.httpsPort}/dav/x?y=1`);
    const post = await request({ secure: false, method: 'POST', path: '/api/v1/domains', body: '{}' });
    expect(post.status).toBe(301);
  });
});

describe('MTA-STS policy', () => {
  it('serves the policy node/dns hashes into the TXT id, on mta-sts.<hosted domain> only', async () => {
    const { mailDnsRecords, mtaStsPolicyFor, mtaStsPolicyId } = await import('../../node/dns/index.js');
    if (!t.store.directory.getDomain('example.org')) t.store.directory.addDomain('example.org');
    const res = await request({ path: '/.well-known/mta-sts.txt', headers: { Host: 'mta-sts.example.org' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toBe('version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmax_age: 604800\r\n');
    const key = t.store.directory.dkimKeys('example.org')[0];
    const txt = mailDnsRecords({ domains: [{ name: 'example.org', dkim: { selector: key.selector, publicKey: key.publicKeyDns } }], mailHost: 'mail.example.org', ipv4: '192.0.2.10', ipv6: '2001:db8::10', pop3: true }).find((r) => r.name === '_mta-sts.example.org');
    expect(txt && 'content' in txt && txt.content).toBe(`v=STSv1; id=${mtaStsPolicyId(res.body)}`);
    expect(res.body).toBe(mtaStsPolicyFor({ mailHost: 'mail.example.org' }));
    expect((await request({ path: '/.well-known/mta-sts.txt', headers: { Host: 'mta-sts.not-hosted.org' } })).status).toBe(404);
    expect((await request({ path: '/.well-known/mta-sts.txt', headers: { Host: 'mail.example.org' } })).status).toBe(404);
  });
});

describe('connection limits', () => {
  it('caps HTTPS connections per IP like the mail listeners, and frees the slot on close', async () => {
    const lt = makeTestStore();
    const { key } = testTls();
    const store2 = new CertificateStore(cert.toString(), key.toString());
    const limited = await startHttp(
      { store: lt.store, tls: store2, config: testConfig(lt.dataDir, { limits: { maxConnectionsPerIp: 2 } }), log: silentLogger, authLimiter: new AuthLimiter(), adminSecret: SECRET },
      { http: false },
    );
    const open = () =>
      new Promise<import('node:net').Socket>((resolve, reject) => {
        const s = netModule.connect(limited.httpsPort, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
    const closedSoon = (s: import('node:net').Socket) => new Promise<boolean>((resolve) => s.once('close', () => resolve(true)));
    try {
      const a = await open();
      const b = await open();
      const c = await open();
      expect(await closedSoon(c)).toBe(true);
      a.destroy();
      await new Promise<void>((r) => a.once('close', () => r()));
      // The server sees the close asynchronously: retry until a new connection is kept.
      const res = await fetchHealth(limited.httpsPort);
      expect(res).toBe(200);
      b.destroy();
    } finally {
      await limited.close();
      store2.close();
      lt.cleanup();
    }
  });
});

async function fetchHealth(port: number): Promise<number> {
  for (;;) {
    try {
      return await new Promise<number>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, path: '/health', ca: cert, servername: 'localhost', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end();
      });
    } catch {
      await new Promise((r) => setImmediate(r));
    }
  }
}
