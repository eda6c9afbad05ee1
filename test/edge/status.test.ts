/**
 * The edge's /health, the public /status (JSON and page), and the scheduled
 * probe: bounded history in KV, the webhook called once when the node goes
 * down and once when it comes back, retried if the webhook failed.
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

describe('scheduled probe', () => {
  it('keeps history, alerts once on down and once on recovery', async () => {
    const kv = new MemoryKv();
    let t = Date.parse('2026-12-01T10:00:00Z');
    const now = () => t;
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const up = edge(node.url, kv, now);
    const downEdge = edge(dead, kv, now);
    const start = hook.received.length;

    expect((await up.probe()).alert).toBeNull();
    t += 60_000;
    // First failure: not yet an alert (one lost probe pages nobody).
    expect((await downEdge.probe()).alert).toBeNull();
    t += 60_000;
    const second = await downEdge.probe();
    expect(second.alert).toBe('down');
    await hook.waitFor(start + 1);
    for (let i = 0; i < 3; i++) {
      t += 60_000;
      expect((await downEdge.probe()).alert).toBeNull();
    }
    expect(hook.received.length).toBe(start + 1);
    const downMsg = hook.received[start].body as { event: string; text: string; content: string };
    expect(downMsg.event).toBe('down');
    expect(downMsg.text).toContain('DOWN');
    expect(downMsg.text).toContain('could not be reached');
    t += 60_000;
    const back = await up.probe();
    expect(back.alert).toBe('up');
    t += 60_000;
    expect((await up.probe()).alert).toBeNull();
    expect(hook.received.length).toBe(start + 2);
    expect(hook.received[start + 1].body).toMatchObject({ event: 'up' });
    expect((hook.received[start + 1].body as { text: string }).text).toContain('back up after 5 min');

    const state = await readProbeState(kv);
    expect(state.history.map((h) => h.ok)).toEqual([true, false, false, false, false, false, true, true]);
    // The dashboard draws it: one red bar per failed probe.
    const c = new Client(up.app);
    await c.login();
    const html = await (await c.fetch('/')).text();
    expect(html.match(/<rect class="down"/g)).toHaveLength(5);
    expect(html).toContain('8 probes since');
    // /status shows the uptime over the kept history.
    expect(await (await up.app.request('https://admin.example.org/status?format=json')).json()).toMatchObject({ uptime: 37.5 });
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
      res.end(JSON.stringify({ ok: false, listeners: { smtp: true, imaps: false }, store: { ok: true }, disk: { freeBytes: 1000, ok: false } }));
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
