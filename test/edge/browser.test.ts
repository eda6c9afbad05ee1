/**
 * A person using the admin UI in a real browser: Debian's Chromium driven by
 * playwright-core, the edge served from Node (edge/node.ts, as `npm start`
 * serves it) in front of a real node over HTTPS with its self-signed
 * certificate. Log in, add a domain, add an account, see its DNS records and
 * the dashboard, log out. Screenshots go to test-artifacts/edge/.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDohChecker } from '../../edge/index.js';
import { createLocalEdge, type LocalEdge } from '../../edge/node.js';
import { testTls } from '../helpers/store.js';
import { MAIL_HOST, PASSWORD, passwordHash, SECRET, startDoh, startNode, type DohServer, type RunningNode } from './harness.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/edge/', import.meta.url));

let node: RunningNode;
let doh: DohServer;
let edge: LocalEdge;
let base: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [node, doh] = await Promise.all([startNode({ https: true }), startDoh()]);
  edge = createLocalEdge({
    nodeUrl: node.url,
    secret: SECRET,
    adminPasswordHash: await passwordHash(),
    ca: testTls().cert,
    mailHost: MAIL_HOST,
    probeIntervalMs: 0,
    extra: { dnsChecker: createDohChecker({ endpoint: doh.endpoint }) },
  });
  base = (await edge.listen(0)).url;
  // Some history for the dashboard chart.
  for (let i = 0; i < 3; i++) await edge.probe();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await edge?.close();
  await Promise.all([node?.close(), doh?.close()]);
});

const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

describe('the admin UI in Chromium', () => {
  it('log in, add a domain and an account, see DNS records and the dashboard, log out', async () => {
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await shot('01-login');

    await page.fill('input[name=password]', 'wrong password here');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('[role=alert]')).toContain('That password is not right');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/`);
    await expect.poll(() => page.textContent('h1')).toContain('Node health');
    expect(await page.textContent('h1')).toContain('healthy');
    expect(await page.locator('svg.chart').count()).toBe(1);
    await shot('02-dashboard');

    await page.click('nav >> text=Domains');
    await page.fill('input[name=name]', 'example.org');
    await page.click('text=Add domain');
    await page.waitForURL(`${base}/domains/example.org`);
    expect(await page.textContent('.flash.ok')).toContain('Added example.org');
    const rows = page.locator('table tbody tr');
    const n = await rows.count();
    expect(n).toBeGreaterThan(15);
    expect(await page.locator('table tbody tr', { hasText: '_mta-sts.example.org' }).count()).toBe(1);
    expect(await page.locator('table .badge.bad', { hasText: 'missing' }).count()).toBe(n);
    await shot('03-domain-dns-missing');

    // Publish the records and reload: they turn green.
    const res = await node.call('GET', '/api/v1/domains/example.org/dns');
    doh.publish(((await res.json()) as { records: { type: string; name: string; value: string; priority?: number }[] }).records);
    await page.reload();
    expect(await page.locator('table .badge.ok', { hasText: 'live' }).count()).toBe(n);
    await shot('04-domain-dns-live');

    await page.click('nav >> text=Accounts');
    await page.fill('input[name=address]', 'alice@example.org');
    await page.fill('input[name=password]', 'correct horse battery staple');
    await page.fill('input[name=quota]', '2 GB');
    await page.click('text=Create account');
    await expect.poll(() => page.textContent('h1')).toContain('Created alice@example.org');
    const key = (await page.textContent('.secret'))!.trim();
    expect(key.length).toBeGreaterThan(20);
    await shot('05-account-recovery-key');
    await page.click('text=Done');
    await page.waitForURL(`${base}/accounts/alice%40example.org`);
    expect(await page.content()).not.toContain(key);
    expect(await page.textContent('main')).toContain('2.0 GB');
    await shot('06-account');
    expect(node.t.store.directory.getAccount('alice@example.org')).toBeTruthy();

    await page.click('nav >> text=Dashboard');
    await expect.poll(() => page.textContent('h1')).toContain('Node health');
    await page.click('text=Log out');
    await page.waitForURL(`${base}/login`);
    await shot('07-logged-out');
    await page.goto(`${base}/domains`);
    expect(new URL(page.url()).pathname).toBe('/login');
  });
});
