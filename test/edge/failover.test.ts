/**
 * Automatic promotion by the edge (issue 19): the Worker bundle in workerd
 * (miniflare), its cron handler probing a primary that is down, and a real
 * standby node (following a real file replica) whose admin app is served on
 * loopback. The edge asks the standby to take over, with a signed POST
 * /api/v1/promote, only once every probe has failed for five minutes (the
 * default) by the cron's scheduled minutes, and only once; the promoted
 * standby then serves the primary's mail.
 *
 * The edge is one vantage point (issue 19 item 3: "several probe locations'
 * worth of evidence"), so the standby is a second witness: here the edge's
 * NODE_URL leads nowhere (a broken path between Cloudflare and the primary)
 * while the primary itself runs, so the standby, checking the primary from
 * its own side, refuses the promotion (409) and the edge records and shows
 * the refusal; once the primary really dies and the standby has seen it
 * fail for its agreement window, the edge's next run promotes. The edge's
 * call carries its evidence: failing since, failed probes, and the
 * Cloudflare colo from /cdn-cgi/trace (served here by the test's server).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorker } from '../../edge/build.js';
import { FAILOVER_KEY, type FailoverState } from '../../edge/failover.js';
import { COMPATIBILITY_DATE, PROBE_CRON } from '../../infra/edge.js';
import { testConfig } from '../../node/config/index.js';
import { standbyApp } from '../../node/http/standby-app.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';
import { silentLogger } from '../../node/util/log.js';
import { Client, deadPort, passwordHash, SECRET } from './harness.js';

const root = mkdtempSync(join(tmpdir(), 'haven-edge-failover-'));
let standby: StandbyHandle;
let primary: NodeHandle | null = null;
let server: Server;
let mf: Miniflare;
const promoteCalls: number[] = [];
/** The bodies of the edge's promotion calls: its evidence. */
const promoteBodies: unknown[] = [];
const AGREEMENT_MS = 1_500;

beforeAll(async () => {
  const masterKey = randomBytes(32).toString('hex');
  const replicaUrl = pathToFileURL(join(root, 'replica')).href;
  // The primary runs, takes mail and ships it; the edge cannot reach it (its NODE_URL is a closed port), the standby can.
  const p = await startNode(testConfig(join(root, 'a'), { dnsbl: [], masterKey, replicaUrl }), { adminUi: false });
  primary = p;
  await p.operations.call('domain.add', { name: 'example.org' });
  await p.operations.call('account.add', { address: 'alice@example.org', password: 'alice has a long password' });
  await p.replication!.flush(20_000);

  const witness = { host: '127.0.0.1', healthUrl: `https://127.0.0.1:${p.ports.https}/health`, smtpPort: p.ports.smtp!, imapsPort: p.ports.imaps!, intervalMs: 200, timeoutMs: 2_000, agreementMs: AGREEMENT_MS };
  standby = await startStandby(testConfig(join(root, 'b'), { dnsbl: [], masterKey, replicaUrl, role: 'standby', failover: { fenceCheckMs: 100, followMs: 100, witness } }));
  // The standby's own admin app, on plain HTTP here because workerd trusts no self-signed certificate.
  const app = standbyApp({
    status: () => standby.status(),
    promote: () => {
      promoteCalls.push(Date.now());
      return standby.promote();
    },
    witness: standby.witness,
    secret: SECRET,
    log: silentLogger,
  });
  server = serve({
    fetch: async (req: Request, env: unknown) => {
      const path = new URL(req.url).pathname;
      // What Cloudflare's /cdn-cgi/trace answers a Worker's subrequest: one key=value a line, colo among them.
      if (path === '/cdn-cgi/trace') return new Response('fl=1f1\nh=127.0.0.1\nts=1764583200.000\nvisit_scheme=http\ncolo=TST\nhttp=http/1.1\n');
      if (path === '/api/v1/promote') promoteBodies.push(JSON.parse((await req.clone().text()) || 'null'));
      return app.fetch(req, env);
    },
    port: 0,
    hostname: '127.0.0.1',
  }) as Server;
  await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
  const standbyPort = (server.address() as { port: number }).port;

  mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'worker.js', contents: await buildWorker() }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ['KV'],
    bindings: {
      NODE_URL: `http://127.0.0.1:${await deadPort()}`,
      STANDBY_URL: `http://127.0.0.1:${standbyPort}`,
      COLO_TRACE: `http://127.0.0.1:${standbyPort}/cdn-cgi/trace`,
      EDGE_SHARED_SECRET: SECRET,
      ADMIN_PASSWORD_HASH: await passwordHash(),
      SESSION_SECRET: 'a session secret for the workerd failover test',
      DNS_CHECK: 'off',
    },
  });
  await mf.ready;
}, 120_000);

afterAll(async () => {
  await mf?.dispose();
  server?.closeAllConnections();
  server?.close();
  await standby?.close();
  await primary?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the edge promotes the standby', () => {
  it('after five minutes of failed probes, once the standby\'s own witness agrees, once, and the standby then serves', async () => {
    const worker = (await mf.getWorker()) as unknown as { scheduled(o: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }> };
    const kv = (await mf.getKVNamespace('KV')) as unknown as { get(key: string): Promise<string | null> };
    const run = async (minute: string) => {
      const r = await worker.scheduled({ cron: PROBE_CRON, scheduledTime: new Date(`2026-12-01T10:${minute}:00Z`) });
      expect(r.outcome).toBe('ok');
      return JSON.parse((await kv.get(FAILOVER_KEY)) ?? 'null') as FailoverState | null;
    };
    // Four minutes of failures: evidence, not yet enough.
    for (const m of ['00', '01', '02', '03', '04']) {
      const s = await run(m);
      expect(s?.failingSince).toBe(Date.parse('2026-12-01T10:00:00Z'));
      expect(s?.promotion).toBeNull();
    }
    expect(promoteCalls).toHaveLength(0);
    expect(standby.node()).toBeNull();
    expect((await standby.status()).role).toBe('standby');

    // The admin UI shows the primary down, the standby following, the failover armed and the epoch history.
    const ui = new Client({ request: (input: string, init?: RequestInit) => mf.dispatchFetch(input, init as never) as unknown as Promise<Response> });
    expect((await ui.login()).status).toBe(303);
    const page = await (await ui.fetch('/')).text();
    expect(page).toContain('unreachable');
    expect(page).toMatch(/following, lag/);
    expect(page).toContain('primary failing since 2026-12-01T10:00:00.000Z');
    expect(page).toMatch(/<td>1<\/td><td>[^<]+<\/td><td>first start<\/td>/);

    // Five minutes: the edge asks, with its evidence; the standby still reaches the primary and refuses.
    await waitFor(() => standby.witness.view().state.last?.up === true);
    const s5 = await run('05');
    expect(promoteBodies).toEqual([{ evidence: { failingSince: Date.parse('2026-12-01T10:00:00Z'), failedProbes: 6, colo: 'TST', lastError: expect.stringContaining('could not be reached') } }]);
    expect(promoteCalls).toHaveLength(0);
    expect(s5?.promotion).toMatchObject({ promoted: false, refused: true, status: 409, at: Date.parse('2026-12-01T10:05:00Z') });
    expect(s5?.promotion?.error).toMatch(/^automatic promotion refused: the standby still reaches the primary \(health: 200 ok, smtp: 220 greeting, imaps: TLS and \* OK greeting\)/);
    expect(s5?.refusals).toEqual([{ at: Date.parse('2026-12-01T10:05:00Z'), reason: s5?.promotion?.error }]);
    expect(standby.node()).toBeNull();
    // The admin UI shows the refusal, its reason and what the standby's witness sees.
    const refusedPage = await (await ui.fetch('/')).text();
    expect(refusedPage).toContain('refused by the standby 2026-12-01T10:05:00.000Z');
    expect(refusedPage).toContain('Refused promotions');
    expect(refusedPage).toContain('sees the primary up');
    expect(refusedPage).toContain('the standby still reaches the primary');

    // The primary dies. Until the standby has seen it fail for its agreement window, it still refuses; then the next run promotes.
    await primary!.close();
    primary = null;
    await waitFor(() => standby.witness.view().state.failingSince !== null);
    await waitFor(() => standby.witness.judge(null).agree);
    const s6 = await run('06');
    expect(promoteCalls).toHaveLength(1);
    expect(promoteBodies.at(-1)).toMatchObject({ evidence: { failedProbes: 7, colo: 'TST' } });
    expect(s6?.promotion).toMatchObject({ promoted: true, status: 200, at: Date.parse('2026-12-01T10:06:00Z') });
    // The refusal stays in the failover history.
    expect(s6?.refusals).toHaveLength(1);
    const node = standby.node();
    expect(node).not.toBeNull();
    expect(node!.store.directory.getAccount('alice@example.org')).toBeTruthy();
    expect(node!.ports.smtp).toBeGreaterThan(0);

    // The primary's URL still fails here (no floating address moved in this test): no second promotion.
    await run('07');
    expect(promoteCalls).toHaveLength(1);
  }, 120_000);
});

/** Waits for a condition the standby's witness reaches on its own (it checks every 200 ms here). */
async function waitFor(pred: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting for the standby\'s witness');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the rule (edge/failover decide), pure', () => {
  it('asks only after afterMs of failures in a row, once per outage, and forgets the outage when the primary answers', async () => {
    const { decide } = await import('../../edge/failover.js');
    let s: FailoverState = { failingSince: null, promotion: null };
    let d = decide(s, false, 0, 300_000);
    expect(d.action.kind).toBe('none');
    s = d.state;
    d = decide(s, false, 299_999, 300_000);
    expect(d.action.kind).toBe('none');
    d = decide(s, false, 300_000, 300_000);
    expect(d.action.kind).toBe('promote');
    // The state does not change while an outage merely goes on: no KV write a minute.
    expect(d.state).toEqual(s);
    // A refused promotion (e.g. the standby was unreachable) is asked again next run; a done one is not.
    s = { ...d.state, promotion: { at: 300_000, status: 0, promoted: false } };
    expect(decide(s, false, 360_000, 300_000).action.kind).toBe('promote');
    s = { ...d.state, promotion: { at: 300_000, status: 200, promoted: true } };
    expect(decide(s, false, 360_000, 300_000).action.kind).toBe('none');
    // One answer from the primary ends the outage: the clock starts again at the next failure.
    const up = decide(s, true, 420_000, 300_000).state;
    expect(up.failingSince).toBeNull();
    expect(decide(up, false, 480_000, 300_000).action.kind).toBe('none');
  });

  it('counts the failed probes from the scheduled minutes, and asks a standby that refused again after 1, 2, 4, 8, then every 15 minutes', async () => {
    const { decide, failedProbesSince } = await import('../../edge/failover.js');
    // The cron runs every minute (infra PROBE_CRON) and any answer ends the outage.
    expect(failedProbesSince(0, 0)).toBe(1);
    expect(failedProbesSince(0, 5 * 60_000)).toBe(6);
    const M = 60_000;
    const asked: number[] = [];
    let s: FailoverState = { failingSince: null, promotion: null };
    let tries = 0;
    for (let minute = 0; minute <= 60; minute++) {
      const d = decide(s, false, minute * M, 5 * M);
      s = d.state;
      if (d.action.kind === 'promote') {
        asked.push(minute);
        tries++;
        s = { ...s, promotion: { at: minute * M, status: 409, promoted: false, refused: true, tries } };
      }
    }
    expect(asked).toEqual([5, 6, 8, 12, 20, 35, 50]);
    // A new outage starts the schedule again.
    s = decide(s, true, 61 * M, 5 * M).state;
    expect(decide(s, false, 62 * M, 5 * M).state.failingSince).toBe(62 * M);
    expect(decide(decide(s, false, 62 * M, 5 * M).state, false, 67 * M, 5 * M).action.kind).toBe('promote');
  });
});

describe('the standby admin app', () => {
  it('refuses an unsigned promotion (401) and serves nothing but /health and promote', async () => {
    const app = standbyApp({ status: () => standby.status(), promote: async () => ({ promoted: false }), secret: SECRET, log: silentLogger });
    expect((await app.request('/api/v1/promote', { method: 'POST' })).status).toBe(401);
    expect((await app.request('/api/v1/domains')).status).toBe(503);
  });
});
