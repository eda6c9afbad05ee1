/**
 * The edge's /health, the public /status (JSON and page), and the scheduled
 * probe: run every minute, written to KV at each change and every fifth
 * minute (bounded history), the webhook called at once when the node goes
 * down and when it comes back, retried if the webhook failed.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp, MAX_HISTORY, MemoryKv, readProbeState } from '../../edge/index.js';
import { PROBE_KEY } from '../../edge/probe.js';
import { Client, deadPort, passwordHash, SECRET, startHook, startNode, type Hook, type RunningNode } from './harness.js';

let node: RunningNode;
let hook: Hook;
let hash: string;

beforeAll(async () => {
  [node, hook, hash] = await Promise.all([startNode(), startHook(), passwordHash()]);
});
afterAll(async () => {
  await Promise.all([node.close(), hook.close()]);
});

function edge(nodeUrl: string, kv = new MemoryKv(), now?: () => number) {
  return createEdgeApp({ nodeUrl, edgeSecret: SECRET, adminPasswordHash: hash, kv, dnsChecker: null, alertWebhook: hook.url, now });
}

describe('/health and /status', () => {
  it('/health answers without the node', async () => {
    const { app } = edge(`http://127.0.0.1:${await deadPort()}`);
    const res = await app.request('https://admin.example.org/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, service: 'haven-edge' });
  });

  it('serves the stylesheet and an empty favicon without a session', async () => {
    const { app } = edge(node.url);
    const css = await app.request('https://admin.example.org/assets/app.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('.badge.ok');
    const icon = await app.request('https://admin.example.org/favicon.ico');
    expect(icon.status).toBe(204);
    // Every answer carries the security headers; pages allow no script at all.
    expect(css.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(css.headers.get('strict-transport-security')).toBe('max-age=31536000');
    expect(css.headers.get('x-frame-options')).toBe('DENY');
  });

  it('/status probes the node: JSON for monitors, a page for people, nothing internal', async () => {
    const { app } = edge(node.url);
    const json = await app.request('https://admin.example.org/status', { headers: { accept: 'application/json' } });
    expect(json.status).toBe(200);
    const body = (await json.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: true, node: { ok: true, status: 200 } });
    expect(JSON.stringify(body)).not.toContain('listeners');
    const page = await app.request('https://admin.example.org/status');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('operational');
    const down = edge(`http://127.0.0.1:${await deadPort()}`).app;
    const d = await down.request('https://admin.example.org/status?format=json');
    expect(d.status).toBe(503);
    expect(await d.json()).toMatchObject({ ok: false, node: { ok: false, status: 0 } });
  });
});

/** The real in-memory KV, counting the probe's writes so a test can see which runs wrote. */
class CountingKv extends MemoryKv {
  probeWrites = 0;
  override async put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> {
    if (key === PROBE_KEY) this.probeWrites++;
    await super.put(key, value, options);
  }
}

describe('scheduled probe', () => {
  it('runs every minute but writes KV only on a change and every fifth minute; alerts at once', async () => {
    const kv = new CountingKv();
    let t = Date.parse('2026-12-01T10:00:00Z');
    const now = () => t;
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const up = edge(node.url, kv, now);
    const downEdge = edge(dead, kv, now);
    const start = hook.received.length;
    // One run a minute, the way the cron trigger calls it; returns whether it wrote.
    const minute = async (e: ReturnType<typeof edge>, expectAlert: 'down' | 'up' | null = null) => {
      t += 60_000;
      const before = kv.probeWrites;
      const o = await e.probe({ scheduledTime: t });
      expect(o.alert).toBe(expectAlert);
      expect(kv.probeWrites - before).toBe(o.kept ? 1 : 0);
      return o.kept;
    };

    // 10:00, the first run ever: kept.
    expect((await up.probe({ scheduledTime: t })).kept).toBe(true);
    // 10:01–10:04 steady: nothing written.
    for (let i = 0; i < 4; i++) expect(await minute(up)).toBe(false);
    expect(kv.probeWrites).toBe(1);
    // 10:05: the five-minute point.
    expect(await minute(up)).toBe(true);
    expect(kv.probeWrites).toBe(2);
    // 10:06 first failure: a change, kept at once (no alert yet: one lost probe pages nobody).
    expect(await minute(downEdge)).toBe(true);
    // 10:07 second failure: the down alert goes out in this very run and is kept.
    expect(await minute(downEdge, 'down')).toBe(true);
    await hook.waitFor(start + 1);
    // 10:08, 10:09 still down: no write and no second alert; 10:10 is the five-minute point.
    expect(await minute(downEdge)).toBe(false);
    expect(await minute(downEdge)).toBe(false);
    expect(await minute(downEdge)).toBe(true);
    expect(hook.received.length).toBe(start + 1);
    const downMsg = hook.received[start].body as { event: string; text: string; content: string };
    expect(downMsg.event).toBe('down');
    expect(downMsg.text).toContain('DOWN');
    expect(downMsg.text).toContain('could not be reached');
    // 10:11 back up: alerted and kept at once; 10:12 steady again.
    expect(await minute(up, 'up')).toBe(true);
    expect(await minute(up)).toBe(false);
    expect(hook.received.length).toBe(start + 2);
    expect(hook.received[start + 1].body).toMatchObject({ event: 'up' });
    expect((hook.received[start + 1].body as { text: string }).text).toContain('back up after 5 min');
    expect(kv.probeWrites).toBe(6);

    const state = await readProbeState(kv);
    expect(state.history.map((h) => [new Date(h.t).toISOString().slice(11, 16), h.ok])).toEqual([
      ['10:00', true], ['10:05', true], ['10:06', false], ['10:07', false], ['10:10', false], ['10:11', true],
    ]);
    // The dashboard draws it: one red bar per kept failed probe.
    const c = new Client(up.app);
    await c.login();
    const html = await (await c.fetch('/')).text();
    expect(html.match(/<rect class="down"/g)).toHaveLength(3);
    expect(html).toContain('6 probes since');
    // /status shows the uptime over the kept history.
    expect(await (await up.app.request('https://admin.example.org/status?format=json')).json()).toMatchObject({ uptime: 50 });
  });

  it('keeps a run whose minute was skipped once the last point is five minutes old', async () => {
    const kv = new CountingKv();
    let t = Date.parse('2026-12-01T10:00:20Z');
    const e = edge(node.url, kv, () => t);
    await e.probe({ scheduledTime: Date.parse('2026-12-01T10:00:00Z') });
    // The 10:05 run never happened (a cron trigger is best-effort); 10:06 keeps the point instead.
    t = Date.parse('2026-12-01T10:04:20Z');
    expect((await e.probe({ scheduledTime: Date.parse('2026-12-01T10:04:00Z') })).kept).toBe(false);
    t = Date.parse('2026-12-01T10:06:20Z');
    expect((await e.probe({ scheduledTime: Date.parse('2026-12-01T10:06:00Z') })).kept).toBe(true);
    expect(kv.probeWrites).toBe(2);
  });

  it('retries a failed webhook call on the next run instead of forgetting the alert', async () => {
    const kv = new MemoryKv();
    const dead = edge(`http://127.0.0.1:${await deadPort()}`, kv);
    const start = hook.received.length;
    hook.status = 500;
    try {
      await dead.probe();
      const failed = await dead.probe();
      expect(failed.alert).toBeNull();
      expect(failed.alertError).toContain('answered 500');
      hook.status = 200;
      const retried = await dead.probe();
      expect(retried.alert).toBe('down');
      expect(hook.received.length).toBe(start + 2);
    } finally {
      hook.status = 200;
    }
  });

  it('counts a node that answers 503 as down and names what is wrong', async () => {
    const sick = createServer((_req, res) => {
      res.statusCode = 503;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: false, listeners: { smtp: true, imaps: false }, store: { ok: true }, disk: { freeBytes: 1000, ok: false }, spam: { rspamd: 'down', ok: false, sinceSeconds: 120, error: 'rspamd does not answer' } }));
    });
    sick.listen(0, '127.0.0.1');
    await new Promise((r) => sick.once('listening', r));
    try {
      const e = edge(`http://127.0.0.1:${(sick.address() as AddressInfo).port}`);
      const first = await e.probe();
      expect(first.probe).toMatchObject({ ok: false, status: 503 });
      expect(first.probe.error).toBe('imaps listener down, disk nearly full: see the dashboard and the node\'s log');
      const c = new Client(e.app);
      await c.login();
      const html = await (await c.fetch('/')).text();
      expect(html).toContain('unhealthy');
      expect(html).toContain('imaps down');
      // The rspamd outage (issue 17) shows on the dashboard too.
      expect(html).toContain('Spam filter (rspamd)');
      expect(html).toMatch(/down for 2 min[^<]*: Haven(&#39;|')s own score decides/);
    } finally {
      await new Promise((r) => sick.close(r));
    }
  });

  it('keeps the history bounded', async () => {
    const kv = new MemoryKv();
    const long = Array.from({ length: MAX_HISTORY }, (_, i) => ({ t: i, ok: true, status: 200, ms: 5 }));
    await kv.put(PROBE_KEY, JSON.stringify({ history: long, failures: 0, alerted: null, downSince: null }));
    await edge(node.url, kv).probe();
    const s = await readProbeState(kv);
    expect(s.history).toHaveLength(MAX_HISTORY);
    expect(s.history[0].t).toBe(1);
    expect(s.history[MAX_HISTORY - 1].t).toBeGreaterThan(1e12);
  });
});
