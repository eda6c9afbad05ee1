/**
 * GET /health: a real listener probed over TCP, the store, real replication
 * to a file target, the queue, the certificate and the disk, each able to
 * turn the answer into 503.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startReplication } from '../../node/replication/index.js';
import { queueFor } from '../../node/smtp/context.js';
import { CertificateStore, createSelfSignedCertificate } from '../../node/tls/index.js';
import { silentLogger } from '../../node/util/log.js';
import { tcpProbe } from '../../node/http/health.js';
import { LoopWatchdog } from '../../node/net/index.js';
import { sampleMessage, testTls } from '../helpers/store.js';
import { makeTestApp, type TestApp } from './harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function listener(): Promise<{ port: number; close(): Promise<void> }> {
  // resume(): a socket nobody reads never sees the peer's FIN, and close() would wait for it forever.
  const server = net.createServer((s) => s.resume().end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

function app(extra: Parameters<typeof makeTestApp>[0] = {}): TestApp {
  const h = makeTestApp(extra);
  cleanups.push(() => h.cleanup());
  return h;
}

describe('/health', () => {
  it('is 200 with every part reported when all is well', async () => {
    const smtp = await listener();
    cleanups.push(() => smtp.close());
    const h = app({ health: { listeners: { smtp: { host: '127.0.0.1', port: smtp.port }, custom: () => true } } });
    queueFor(h.t.store).enqueue({ accountId: null, mailFrom: 'a@example.org', raw: sampleMessage() }, [{ rcpt: 'b@remote.test' }], Date.now() - 90_000);
    const res = await h.app.request('/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as any;
    expect(body).toEqual({
      ok: true,
      listeners: { smtp: true, custom: true },
      store: { ok: true },
      replication: { enabled: false, lagSeconds: null, ok: true },
      queue: { depth: 1, oldestSeconds: expect.any(Number) },
      certificate: { daysLeft: expect.any(Number), subject: 'CN=localhost', ok: true },
      disk: { freeBytes: expect.any(Number), ok: true },
      eventLoop: { ok: true, lagMs: null, maxLagMs: null, lastStallMs: null },
      // No replica: no epoch, and the one node is the primary.
      role: { role: 'primary', epoch: null, ok: true },
      version: '0.1.0',
    });
    expect(body.queue.oldestSeconds).toBeGreaterThanOrEqual(90);
    expect(body.certificate.daysLeft).toBeGreaterThan(30_000);
    expect(body.disk.freeBytes).toBeGreaterThan(0);
  });

  it('is 503 for a while after the event loop stalled past its limit (node/net watchdog)', async () => {
    const dog = new LoopWatchdog({ intervalMs: 20, maxLagMs: 300, holdMs: 60_000 }).start();
    try {
      const h = app({ health: { eventLoop: () => dog.health() }, healthCacheMs: 0 });
      // A synchronous stall, as a pathological parse or rule would cause (longer than any a busy test runner causes by itself).
      const until = performance.now() + 800;
      while (performance.now() < until);
      // The late tick is seen once the loop runs timers again.
      await new Promise((r) => setTimeout(r, 60));
      const res = await h.app.request('/health');
      expect(res.status).toBe(503);
      const body = (await res.json()) as any;
      expect(body.eventLoop.ok).toBe(false);
      // This stall, not some other: at least as long as the loop above.
      expect(body.eventLoop.lastStallMs).toBeGreaterThanOrEqual(750);
      expect(body.eventLoop.maxLagMs).toBeGreaterThanOrEqual(750);
    } finally {
      dog.stop();
    }
  });

  it('is 503 when a listener stops accepting, naming it', async () => {
    const smtp = await listener();
    const h = app({ health: { listeners: () => ({ smtp: { host: '127.0.0.1', port: smtp.port }, imaps: () => Promise.reject(new Error('boom')) }) } });
    await smtp.close();
    const res = await h.app.request('/health');
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.ok).toBe(false);
    expect(body.listeners).toEqual({ smtp: false, imaps: false });
  });

  it('is 503 when the certificate is about to expire or the disk is nearly full', async () => {
    const pair = await createSelfSignedCertificate({ days: 3 });
    const h = app();
    const short = new CertificateStore(pair.certPem, pair.keyPem);
    const h2 = app({ tls: short });
    let res = await h2.app.request('/health');
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).certificate).toMatchObject({ ok: false, daysLeft: 2 });

    const h3 = app({ healthThresholds: { minFreeBytes: Number.MAX_SAFE_INTEGER } });
    res = await h3.app.request('/health');
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).disk.ok).toBe(false);
    expect((await h.app.request('/health')).status).toBe(200);
  });

  it('is 503 when the store no longer answers', async () => {
    const h = app();
    h.t.store.close();
    const res = await h.app.request('/health');
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.store.ok).toBe(false);
    expect(body.store.error).toMatch(/does not answer/);
  });

  it('reports real replication: enabled, lag, and the admin view of it', async () => {
    const replica = mkdtempSync(join(tmpdir(), 'haven-replica-'));
    cleanups.push(() => rmSync(replica, { recursive: true, force: true }));
    let rep: ReturnType<typeof startReplication> = null;
    const h = app({ health: { replication: () => rep?.status() ?? null } });
    rep = startReplication(testConfig(h.t.dataDir, { replicaUrl: `file://${replica}` }), h.t.store, silentLogger, { retentionCheckMs: 0 });
    expect(rep).not.toBeNull();
    cleanups.push(() => rep!.stop(5000));
    h.t.store.directory.setSetting('touch', '1');
    await rep!.flush(10_000);
    const res = await h.app.request('/health');
    const body = (await res.json()) as any;
    expect(body.replication).toEqual({ enabled: true, lagSeconds: 0, ok: true, error: null });
    const r = (await (await h.call('GET', '/api/v1/replication')).json()) as any;
    expect(r).toMatchObject({ enabled: true, target: expect.stringContaining(replica), lagSeconds: 0, errors: [], healthy: true });
    expect(r.databases).toBeGreaterThanOrEqual(1);
    expect(new Date(r.lastShippedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('/health probes', () => {
  it('completes a TLS handshake on implicit-TLS listeners and fails one that never answers it', async () => {
    const { key, cert } = testTls();
    const tlsServer = tls.createServer({ key, cert }, (s) => s.end());
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => tlsServer.close(() => r())));
    const silent = await listener(); // accepts TCP, never speaks TLS
    cleanups.push(() => silent.close());
    const port = (tlsServer.address() as net.AddressInfo).port;
    expect(await tcpProbe({ host: '127.0.0.1', port, tls: true }, 2000)).toBe(true);
    expect(await tcpProbe({ host: '127.0.0.1', port: silent.port, tls: false }, 2000)).toBe(true);
    const h = app({ healthThresholds: { probeTimeoutMs: 300 }, health: { listeners: { imaps: { host: '127.0.0.1', port }, pop3s: { host: '127.0.0.1', port: silent.port } } } });
    const body = (await (await h.app.request('/health')).json()) as any;
    expect(body.listeners).toEqual({ imaps: true, pop3s: false });
  });

  it('reuses one result for a burst of requests, then probes again', async () => {
    const smtp = await listener();
    let probes = 0;
    const h = app({ healthCacheMs: 60_000, health: { listeners: { smtp: { host: '127.0.0.1', port: smtp.port }, counted: () => (probes++, true) } } });
    const first = await Promise.all([h.app.request('/health'), h.app.request('/health'), h.app.request('/health')]);
    expect(first.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(probes).toBe(1);
    await smtp.close();
    expect((await h.app.request('/health')).status).toBe(200);
    expect(probes).toBe(1);
    const fresh = app({ healthCacheMs: 0, health: { listeners: { smtp: { host: '127.0.0.1', port: smtp.port } } } });
    expect((await fresh.app.request('/health')).status).toBe(503);
  });
});
