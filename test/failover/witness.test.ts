/**
 * The standby's own witness (issue 19, item 3; node/failover/witness) against
 * a real primary: a whole node in a process of its own on loopback, and a
 * real standby following the same file replica whose witness checks that
 * primary's /health, SMTP greeting (RFC 5321 §4.2, `220`) and IMAPS greeting
 * (RFC 9051 §7.1.1, `* OK`). The edge's signed promotion, carrying its
 * evidence, goes to the standby's own HTTPS listener. While the primary
 * answers, the standby refuses (409, saying why); once the primary is
 * SIGKILLed it still refuses until its own failing-since is older than the
 * agreement window, and then it accepts and serves. `haven promote` is not
 * subject to any of this (test/cli/failover.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { witnessSummary } from '../../node/failover/index.js';
import { signRequest } from '../../node/http/signature.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';
import { runChild, type Child } from '../helpers/child.js';

const root = mkdtempSync(join(tmpdir(), 'haven-witness-'));
const SECRET = 'a shared admin secret for the witness test, long enough';
const AGREEMENT_MS = 4_000;
let standby: StandbyHandle | null = null;
let primary: Child | null = null;
afterAll(async () => {
  await primary?.kill();
  await standby?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The edge's call: a signed POST /api/v1/promote with its evidence. */
async function promote(port: number, evidence: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = JSON.stringify({ evidence });
  const headers = { 'content-type': 'application/json', ...(await signRequest(SECRET, { method: 'POST', path: '/api/v1/promote', body })) };
  return request(port, 'POST', '/api/v1/promote', headers, body);
}

function request(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits for a condition the standby reaches on its own (its checks run every 200 ms here). */
async function until(what: string, pred: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the standby as a second witness', () => {
  it('refuses the edge\'s promotion while it reaches the primary; after a SIGKILL, refuses until the agreement window has passed, then promotes', async () => {
    const masterKey = randomBytes(32).toString('hex');
    const url = pathToFileURL(join(root, 'replica')).href;
    primary = runChild(join(import.meta.dirname, '..', 'replication', 'fixtures', 'failover-primary.ts'), [join(root, 'a'), url, masterKey, 'alice has a long password']);
    const portsLine = await primary.waitFor((l) => l.startsWith('ports ') || l.startsWith('__exit__'));
    expect(portsLine).toMatch(/^ports \{/);
    await primary.waitFor((l) => l === 'ready');
    const ports = JSON.parse(portsLine.slice(6)) as { smtp: number; imaps: number; https: number };

    standby = await startStandby(
      testConfig(join(root, 'b'), {
        dnsbl: [],
        masterKey,
        replicaUrl: url,
        role: 'standby',
        admin: { secret: SECRET },
        failover: {
          fenceCheckMs: 200,
          followMs: 200,
          witness: { host: '127.0.0.1', healthUrl: `https://127.0.0.1:${ports.https}/health`, smtpPort: ports.smtp, imapsPort: ports.imaps, intervalMs: 200, timeoutMs: 2_000, agreementMs: AGREEMENT_MS },
        },
      }),
    );
    const sb = standby;
    const port = sb.httpsPort!;

    // Up: every check passes from here, and the edge's promotion is refused with the reason.
    await until('a first round of checks', () => sb.witness.view().state.last !== null);
    const up = sb.witness.view().state.last!;
    expect(up.up).toBe(true);
    expect(up.checks).toEqual([
      { name: 'health', ok: true, detail: '200 ok' },
      { name: 'smtp', ok: true, detail: '220 greeting' },
      { name: 'imaps', ok: true, detail: 'TLS and * OK greeting' },
    ]);
    const evidence = { failingSince: Date.now() - 300_000, failedProbes: 6, colo: 'FRA' };
    const r1 = await promote(port, evidence);
    expect(r1.status).toBe(409);
    expect(r1.body).toMatchObject({ promoted: false, refused: true });
    expect(String(r1.body.error)).toMatch(/^automatic promotion refused: the standby still reaches the primary \(health: 200 ok, smtp: 220 greeting, imaps: TLS and \* OK greeting\)/);
    expect(sb.node()).toBeNull();
    // The edge's dashboard reads this.
    const h = await request(port, 'GET', '/health');
    expect(h.body.witness).toMatchObject({ enabled: true, primaryUp: true, failingSince: null, agreementSeconds: AGREEMENT_MS / 1000 });
    expect(witnessSummary(sb.witness.view())).toMatch(/answers from here .* would be refused/);

    // Malformed evidence is a clear 400, not a promotion.
    const bad = await promote(port, { failingSince: 'a while ago', failedProbes: 6 });
    expect(bad).toMatchObject({ status: 400, body: { error: expect.stringMatching(/failingSince/) } });

    // The primary dies. The standby's first failed round starts its own clock: too young to agree.
    await primary.kill();
    await until('the witness to see the primary fail', () => sb.witness.view().state.failingSince !== null);
    const since = sb.witness.view().state.failingSince!;
    const r2 = await promote(port, evidence);
    // The check of the window's age is the standby's own clock, so assert only what is certain: this call came early.
    expect(Date.now() - since).toBeLessThan(AGREEMENT_MS);
    expect(r2.status).toBe(409);
    expect(String(r2.body.error)).toMatch(/seen the primary fail for only \d+ s \(\d+ rounds\); it agrees after 4 s/);
    expect(sb.witness.view().state.last!.checks.every((c) => !c.ok)).toBe(true);
    expect(sb.node()).toBeNull();

    // After the window: the standby agrees, takes the epoch and serves.
    await until('the agreement window to pass', () => Date.now() - since >= AGREEMENT_MS + 300 && sb.witness.view().state.last!.at - since >= AGREEMENT_MS);
    const r3 = await promote(port, evidence);
    expect(r3).toEqual({ status: 200, body: { promoted: true } });
    const node = sb.node()!;
    expect(node.store.directory.getAccount('alice@example.org')).toBeTruthy();
  }, 120_000);
});
