/**
 * A standby's own HTTPS listener (node/standby, node/http/standby-app), as
 * a server runs it: /health over TLS with the node's certificate (role,
 * lag, epoch), a promotion without a valid signature refused (401), and a
 * signed POST /api/v1/promote (the edge's call, docs/admin-api.md signing)
 * answered 200 once the node serves, on the same connection the standby
 * closed its listener under while it promoted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { signRequest } from '../../node/http/signature.js';
import { startNode } from '../../node/main.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';

const root = mkdtempSync(join(tmpdir(), 'haven-standby-https-'));
let standby: StandbyHandle | null = null;
afterAll(async () => {
  await standby?.close();
  rmSync(root, { recursive: true, force: true });
});

function call(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path, headers, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe("a standby's HTTPS", () => {
  it('serves /health, refuses an unsigned promotion, and promotes on a signed one', async () => {
    const masterKey = randomBytes(32).toString('hex');
    const secret = 'a shared admin secret for this test, long enough';
    const replicaUrl = pathToFileURL(join(root, 'replica')).href;
    const primary = await startNode(testConfig(join(root, 'a'), { dnsbl: [], masterKey, replicaUrl }), { adminUi: false });
    await primary.operations.call('domain.add', { name: 'example.org' });
    await primary.replication!.flush(20_000);
    await primary.close();

    standby = await startStandby(testConfig(join(root, 'b'), { dnsbl: [], masterKey, replicaUrl, role: 'standby', admin: { secret }, failover: { fenceCheckMs: 100, followMs: 100 } }));
    const port = standby.httpsPort!;
    const h = await call(port, 'GET', '/health');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ ok: true, role: 'standby', epoch: 1, follow: { behindObjects: 0, lastError: null } });
    expect(h.body.history).toEqual([{ epoch: 1, at: expect.any(Number), how: 'first' }]);

    expect((await call(port, 'POST', '/api/v1/promote')).status).toBe(401);
    expect(standby.node()).toBeNull();

    const signed = await signRequest(secret, { method: 'POST', path: '/api/v1/promote', body: '' });
    const p = await call(port, 'POST', '/api/v1/promote', signed);
    expect(p).toEqual({ status: 200, body: { promoted: true } });
    const node = standby.node()!;
    expect(node.store.directory.getDomain('example.org')).toBeTruthy();
    const after = await call(node.ports.https!, 'GET', '/health');
    expect(after.body.role).toEqual({ role: 'primary', epoch: 2, ok: true });
  }, 120_000);
});
