/**
 * @module test/infra/edge-worker
 * The real edge app (edge/worker.ts) through the infra's build step (the
 * edge's own builder, edge/build.ts): one self-contained ES module with no
 * Node built-ins, which, given exactly the text bindings the Pulumi program
 * sets, reads every one of them under the name it is bound (shared secret,
 * Access settings), answers /health, serves the MTA-STS policy node/dns
 * publishes, and leaves POP3 out of client autoconfig when the stack turns
 * POP3 off. (Running it in workerd through miniflare is the edge's own test.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorker } from '../../edge/build.js';
import { MemoryKv } from '../../edge/kv.js';
import { depsFromEnv, type WorkerEnv } from '../../edge/worker.js';
import { buildEdgeWorker, DEFAULT_EDGE_ENTRY, edgeEntryExists, edgeTextBindings } from '../../infra/edge.js';
import { mtaStsPolicyFor } from '../../node/dns/index.js';

type Worker = { fetch(req: Request, env: Record<string, unknown>, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> | Response };

const dir = mkdtempSync(join(tmpdir(), 'haven-edge-build-'));
let bundle = '';
let worker: Worker;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ACCESS = { aud: 'a1b2c3d4'.repeat(8), team: 'myteam' };

function env(pop3: boolean, access?: typeof ACCESS, failover?: { standbyUrl: string; afterSeconds: number }): Record<string, unknown> {
  const b = edgeTextBindings({
    nodeUrl: 'https://mail.example.com',
    mailHost: 'mail.example.com',
    domains: ['example.com', 'example.org'],
    pop3,
    edgeSecret: 's'.repeat(64),
    adminPasswordHash: 'pbkdf2-sha256$placeholder',
    alertWebhook: 'https://hooks.example.net/x',
    access,
    failover,
  });
  // DNS_CHECK is the edge's own switch for its DNS-over-HTTPS lookups: off, so the test stays on loopback.
  // KV is the namespace binding the program adds beside these texts.
  return { ...Object.fromEntries(b.map((x) => [x.name, x.text])), DNS_CHECK: 'off', KV: new MemoryKv() };
}

const call = (url: string, pop3 = true, access?: typeof ACCESS) => Promise.resolve(worker.fetch(new Request(url), env(pop3, access), { waitUntil: () => undefined }));

beforeAll(async () => {
  expect(edgeEntryExists(DEFAULT_EDGE_ENTRY), `${DEFAULT_EDGE_ENTRY} is the Worker the stack deploys`).toBe(true);
  bundle = await buildEdgeWorker(DEFAULT_EDGE_ENTRY);
  const file = join(dir, 'worker.mjs');
  writeFileSync(file, bundle);
  worker = (await import(pathToFileURL(file).href)).default as Worker;
}, 60_000);

describe('the edge Worker as the stack deploys it', () => {
  it('is one ES module with a default export and no Node built-ins or bare imports', () => {
    expect(bundle).toMatch(/export\s*{[^}]*\bdefault\b[^}]*}|export default/);
    expect(bundle).not.toMatch(/^\s*import\s[^;]*from\s*['"](node:|[a-z@])/m);
    expect(bundle).not.toMatch(/\brequire\(\s*['"]node:/);
  });

  it('is what the edge\'s own builder produces (one bundler)', async () => {
    expect(await buildWorker()).toBe(bundle);
  });

  it('binds only names edge/worker.ts reads, and each reaches the setting it is meant for', () => {
    const e = env(true, ACCESS) as WorkerEnv;
    const deps = depsFromEnv(e);
    expect(deps).toMatchObject({
      nodeUrl: 'https://mail.example.com',
      edgeSecret: 's'.repeat(64),
      adminPasswordHash: 'pbkdf2-sha256$placeholder',
      alertWebhook: 'https://hooks.example.net/x',
      access: ACCESS,
      mailHost: 'mail.example.com',
      mailDomains: ['example.com', 'example.org'],
      pop3: true,
    });
    // Without Access settings the edge keeps the password login only.
    expect(depsFromEnv(env(true) as WorkerEnv).access).toBeUndefined();
    // haven:standby: the standby's URL and the failover delay reach edge/failover (seconds become milliseconds).
    const withStandby = depsFromEnv(env(true, undefined, { standbyUrl: 'https://nbg1.mail.example.com', afterSeconds: 420 }) as WorkerEnv);
    expect(withStandby).toMatchObject({ standbyUrl: 'https://nbg1.mail.example.com', failoverAfterMs: 420_000 });
    expect(depsFromEnv(env(true) as WorkerEnv)).toMatchObject({ standbyUrl: undefined, failoverAfterMs: undefined });
  });

  it('offers the Cloudflare Access login when the stack configures it', async () => {
    const withAccess = await (await call('https://admin.example.com/login', true, ACCESS)).text();
    const without = await (await call('https://admin.example.com/login')).text();
    expect(withAccess).toContain('also accepts Cloudflare Access');
    expect(without).not.toContain('Cloudflare Access');
  });

  it('answers /health', async () => {
    const r = await call('https://admin.example.com/health');
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, service: 'haven-edge' });
  });

  it('serves the MTA-STS policy that node/dns hashes into the _mta-sts record', async () => {
    const r = await call('https://mta-sts.example.org/.well-known/mta-sts.txt');
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(mtaStsPolicyFor({ mailHost: 'mail.example.com' }));
    expect((await call('https://mta-sts.not-ours.example/.well-known/mta-sts.txt')).status).toBe(404);
  });

  it('follows the stack\'s POP3 switch in client autoconfig', async () => {
    const url = 'https://autoconfig.example.com/mail/config-v1.1.xml?emailaddress=ann@example.com';
    const on = await (await call(url, true)).text();
    const off = await (await call(url, false)).text();
    expect(on).toContain('type="imap"');
    expect(on).toContain('type="pop3"');
    expect(off).toContain('type="imap"');
    expect(off).not.toContain('type="pop3"');
  });
});
