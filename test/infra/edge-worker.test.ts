/**
 * @module test/infra/edge-worker
 * The real edge app (edge/worker.ts) through the infra's own build step
 * (esbuild, Workers conditions): one self-contained ES module with no Node
 * built-ins, which, given exactly the text bindings the Pulumi program sets,
 * answers /health, serves the MTA-STS policy node/dns publishes, and leaves
 * POP3 out of client autoconfig when the stack turns POP3 off. (Running it
 * in workerd through miniflare is the edge's own test.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEdgeWorker, DEFAULT_EDGE_ENTRY, edgeEntryExists, edgeTextBindings } from '../../infra/edge.js';
import { mtaStsPolicyFor } from '../../node/dns/index.js';

type Worker = { fetch(req: Request, env: Record<string, unknown>, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> | Response };

const dir = mkdtempSync(join(tmpdir(), 'haven-edge-build-'));
let bundle = '';
let worker: Worker;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function env(pop3: boolean): Record<string, unknown> {
  const b = edgeTextBindings({
    nodeUrl: 'https://mail.example.com',
    mailHost: 'mail.example.com',
    domains: ['example.com', 'example.org'],
    pop3,
    edgeSecret: 's'.repeat(64),
    adminPasswordHash: 'pbkdf2-sha256$placeholder',
  });
  // DNS_CHECK is the edge's own switch for its DNS-over-HTTPS lookups: off, so the test stays on loopback.
  return { ...Object.fromEntries(b.map((x) => [x.name, x.text])), DNS_CHECK: 'off' };
}

const call = (url: string, pop3 = true) => Promise.resolve(worker.fetch(new Request(url), env(pop3), { waitUntil: () => undefined }));

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
