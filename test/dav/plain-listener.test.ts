/**
 * The DAV listener with implicitTls off speaks plain HTTP/1.1 (what
 * bench/dav.ts measures beside Radicale on loopback): OPTIONS answers with
 * the DAV classes (RFC 4918 §10.1) and a signed-in PROPFIND with 207.
 */
import http from 'node:http';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDavServer } from '../../node/dav/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';
import { ALICE, basic } from './helpers.js';

let t: TestStore;
let srv: { port: number; close(): Promise<void> };
beforeAll(async () => {
  t = makeTestStore();
  await addAccount(t.store, ALICE.address, ALICE.password);
  const { key, cert } = testTls();
  const ctx = tls.createSecureContext({ key, cert });
  srv = await startDavServer({ store: t.store, log: silentLogger, authLimiter: new AuthLimiter(), tls: { secureContext: () => ctx }, hostname: 'localhost' }, { host: '127.0.0.1', port: 0, implicitTls: false });
});
afterAll(async () => {
  await srv.close();
  t.cleanup();
});

function request(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('DAV listener over plain HTTP', () => {
  it('answers OPTIONS with the DAV classes and PROPFIND with a multistatus', async () => {
    const o = await request('OPTIONS', '/dav/');
    expect(o.status).toBe(200);
    expect(o.headers.dav).toContain('calendar-access');
    const p = await request('PROPFIND', '/dav/calendars/alice@example.test/default/', { Authorization: basic(ALICE), Depth: '0' });
    expect(p.status).toBe(207);
    expect(p.text).toContain('<d:multistatus');
  });
});
