/**
 * The edge served from Node for a local run (edge/node.ts): the first-start
 * admin password (only its hash kept, 0600), the login limit keyed on the
 * socket's address (a forged CF-Connecting-IP changes nothing), and the
 * probe on a timer.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../edge/auth/password.js';
import { createLocalEdge, localAdminPassword } from '../../edge/node.js';
import { readProbeState } from '../../edge/probe.js';
import { PASSWORD, passwordHash, SECRET, startNode, type RunningNode } from './harness.js';

let node: RunningNode;
let dir: string;
beforeAll(async () => {
  node = await startNode();
  dir = mkdtempSync(join(tmpdir(), 'haven-edge-local-'));
});
afterAll(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('local run', () => {
  it('makes an admin password on first start, keeps only its hash, and returns it once', async () => {
    const first = await localAdminPassword(dir);
    expect(first.newPassword).toBeTruthy();
    const file = join(dir, 'admin-password.hash');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain(first.newPassword!);
    expect(await verifyPassword(first.newPassword!, first.hash)).toBe(true);
    const second = await localAdminPassword(dir);
    expect(second.newPassword).toBeUndefined();
    expect(second.hash).toBe(first.hash);
  });

  it('limits logins by socket address, ignoring CF-Connecting-IP, and probes on a timer', async () => {
    const edge = createLocalEdge({ nodeUrl: node.url, secret: SECRET, adminPasswordHash: await passwordHash(), probeIntervalMs: 60_000, extra: { dnsChecker: null } });
    const { url } = await edge.listen(0);
    try {
      await expect.poll(async () => (await readProbeState(edge.edge.deps.kv)).history.length).toBe(1);
      expect((await readProbeState(edge.edge.deps.kv)).history[0].ok).toBe(true);
      const attempt = async (password: string, ip: string) => {
        const page = await fetch(`${url}/login`);
        const cookie = page.headers.getSetCookie()[0].split(';')[0];
        const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
        const res = await fetch(`${url}/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': ip },
          body: new URLSearchParams({ _csrf: csrf, password }).toString(),
        });
        return res.status;
      };
      for (let i = 0; i < 5; i++) expect(await attempt('wrong password', `203.0.113.${i}`)).toBe(401);
      // Five different forged addresses, one socket: the sixth try is refused even with the right password.
      expect(await attempt(PASSWORD, '198.51.100.1')).toBe(429);
      const cookie = (await fetch(`${url}/login`)).headers.getSetCookie()[0];
      expect(cookie).not.toMatch(/Secure/);
      expect(cookie).toMatch(/HttpOnly/);
    } finally {
      await edge.close();
    }
  });
});
