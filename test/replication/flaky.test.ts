/**
 * @module test/replication/flaky
 * An object store that answers 500 now and then (S3's SlowDown, a busy
 * MinIO, s3rver under load all do): a real HTTP proxy in front of s3rver
 * fails the first request for every object and the first listing, and a
 * restore through it still completes, byte for byte. And a listing longer
 * than one page (1,000 keys) comes back whole.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTarget, replicate, restore } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, sampleMessage } from '../helpers/store.js';
import { S3_BUCKET, dumpMailbox, startS3, tempDir, type TestS3 } from './helpers.js';

const INTERNAL_ERROR = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>';

/** Forwards to s3rver, answering 500 to the first GET of each path (listings included). */
function flakyProxy(upstreamPort: number): Promise<{ server: Server; port: number; failed: string[] }> {
  const seen = new Set<string>();
  const failed: string[] = [];
  const server = createServer((req, res) => {
    const key = `${req.method} ${req.url}`;
    if (req.method === 'GET' && !seen.has(key)) {
      seen.add(key);
      failed.push(key);
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' }).end(INTERNAL_ERROR);
      return;
    }
    const up = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, failed })));
}

describe('a flaky object store', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3('flaky');
  });
  afterAll(async () => {
    await s3.cleanup();
  });

  it('a restore retries 500s and completes', async () => {
    const t = makeTestStore();
    const rep = replicate({ url: s3.url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    const store = t.reopen();
    store.directory.addDomain('example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    for (let i = 0; i < 5; i++) await store.deliver(bob.account.id, sampleMessage({ subject: `flaky ${i}` }));
    const before = await dumpMailbox(store, 'bob@example.test', 'bob password long');
    await rep.flush();
    store.close();
    await rep.stop();

    const proxy = await flakyProxy(s3.port);
    const into = tempDir('flaky');
    try {
      let fetched = 0;
      const r = await restore({ target: `s3://${S3_BUCKET}/flaky?endpoint=http://127.0.0.1:${proxy.port}&region=us-east-1`, into, masterKey: t.masterKey, onProgress: (p) => (fetched = p.objectsTotal) });
      expect(r.databases.every((d) => d.verified === 'integrity_check')).toBe(true);
      // The listing and every object fetched failed once before it succeeded.
      expect(proxy.failed.filter((k) => /[?&]prefix=/.test(k)).length).toBe(1);
      expect(fetched).toBeGreaterThan(r.databases.length);
      expect(proxy.failed.filter((k) => !/[?&]prefix=/.test(k)).length).toBe(fetched);
      const s = Store.open({ dataDir: into, masterKey: t.masterKey });
      expect(await dumpMailbox(s, 'bob@example.test', 'bob password long')).toEqual(before);
      s.close();
    } finally {
      proxy.server.close();
      rmSync(into, { recursive: true, force: true });
      t.cleanup();
    }
  });

  it('lists a replica of more than one page of keys', async () => {
    const target = openTarget(s3.url.replace('/flaky?', '/many?'));
    try {
      const keys = Array.from({ length: 1105 }, (_, i) => `k/${String(i).padStart(5, '0')}`);
      const body = Buffer.from('x');
      for (let i = 0; i < keys.length; i += 32) await Promise.all(keys.slice(i, i + 32).map((k) => target.put(k, body)));
      const listed = await target.list();
      expect(listed.map((o) => o.key)).toEqual(keys);
    } finally {
      target.close();
    }
  });
});
