/**
 * The Worker bundle (edge/build.ts) in workerd through miniflare: /health,
 * a login and an admin page whose data comes from a signed call to a real
 * running node, the DNS check against a real DoH server, and the cron
 * handler writing probe history to KV on the scheduled minute it is given.
 */
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorker } from '../../edge/build.js';
import { COMPATIBILITY_DATE, PROBE_CRON } from '../../infra/edge.js';
import { Client, passwordHash, SECRET, startDoh, startNode, type DohServer, type RunningNode } from './harness.js';

let node: RunningNode;
let doh: DohServer;
let mf: Miniflare;
let bundle: string;

beforeAll(async () => {
  [node, doh, bundle] = await Promise.all([startNode(), startDoh(), buildWorker()]);
  node.t.store.directory.addDomain('worker.example');
  mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'worker.js', contents: bundle }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ['KV'],
    bindings: {
      NODE_URL: node.url,
      EDGE_SHARED_SECRET: SECRET,
      ADMIN_PASSWORD_HASH: await passwordHash(),
      SESSION_SECRET: 'a session secret for the workerd test run',
      MAIL_HOST: 'mail.example.org',
      DNS_CHECK: doh.endpoint,
    },
  });
  await mf.ready;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await Promise.all([node?.close(), doh?.close()]);
});

const workerd = {
  request: (input: string, init?: RequestInit) => mf.dispatchFetch(input, init as never) as unknown as Promise<Response>,
};

describe('the Worker bundle in workerd', () => {
  it('is one ES module with no Node built-ins', () => {
    expect(bundle).toMatch(/export\s*\{[^}]*as default/);
    expect(bundle).not.toMatch(/from\s*["']node:/);
    expect(bundle).not.toMatch(/require\(["']node:/);
  });

  it('answers /health', async () => {
    const res = await mf.dispatchFetch('https://admin.example.org/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, service: 'haven-edge' });
  });

  it('logs in and shows data from a signed call to the running node', async () => {
    const c = new Client(workerd);
    const login = await c.login();
    expect(login.status).toBe(303);
    expect(c.cookies.has('haven_session')).toBe(true);
    const res = await c.fetch('/domains');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('href="/domains/worker.example"');
    // A change made through the Worker reaches the node's store.
    const add = await c.submit('/domains', '/domains', { name: 'added-by-worker.example' });
    expect(add.status).toBe(303);
    expect(node.t.store.directory.getDomain('added-by-worker.example')).toBeTruthy();
  });

  it('checks DNS records through the configured DoH endpoint', async () => {
    const rec = await node.call('GET', '/api/v1/domains/worker.example/dns');
    const { records } = (await rec.json()) as { records: { type: string; name: string; value: string; priority?: number }[] };
    doh.publish(records.filter((r) => r.type === 'MX'));
    const c = new Client(workerd);
    await c.login();
    const html = await (await c.fetch('/domains/worker.example')).text();
    expect(html.match(/badge ok">live</g)).toHaveLength(1);
    expect(doh.queries).toContain('worker.example MX');
  });

  it('runs the probe from the cron trigger and keeps a result in KV by its scheduled minute', async () => {
    // miniflare's Fetcher type needs @cloudflare/workers-types, which this project does not install.
    const worker = (await mf.getWorker()) as unknown as { scheduled(o: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }> };
    const history = async () => {
      const status = await mf.dispatchFetch('https://admin.example.org/status?format=json');
      return ((await status.json()) as { history: { t: string; ok: boolean }[] }).history;
    };
    // The cron fires every minute; a steady node is kept only on every fifth scheduled minute.
    const run = async (minute: string) => {
      const r = await worker.scheduled({ cron: PROBE_CRON, scheduledTime: new Date(`2026-12-01T10:${minute}:00Z`) });
      expect(r.outcome).toBe('ok');
    };
    expect(PROBE_CRON).toBe('* * * * *');
    await run('00');
    const first = await history();
    expect(first).toHaveLength(1);
    expect(first[0].ok).toBe(true);
    await run('01');
    expect(await history()).toEqual(first);
    await run('05');
    expect(await history()).toHaveLength(2);
  });
});
