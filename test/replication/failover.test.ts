/**
 * Two real nodes on loopback sharing one replica (issue 19), run on a
 * directory and on moto's S3 server (test/replication/replicas): a
 * primary takes mail over SMTP; a standby (`role: standby`) follows the
 * replica, serves nothing and takes no change; `promote` on its control
 * socket takes the next epoch, applies the chain and starts serving with
 * every message; the old primary sees the newer epoch and answers 451 4.3.0
 * (RFC 3463 3.4: "X.3.0 Other or undefined mail system status", a
 * transient code, so senders retry and reach the new primary), and when
 * restarted it is still fenced and writes nothing to the replica.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askNode } from '../../node/admin/control.js';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { epochHistory } from '../../node/replication/epoch.js';
import { parseKey } from '../../node/replication/object.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';
import { ALICE_PASSWORD, aliceInboxCount, seedAlice, sendToAlice } from './alice.js';
import { replicaKinds, type Replica } from './replicas.js';

const root = mkdtempSync(join(tmpdir(), 'haven-failover-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const masterKey = randomBytes(32).toString('hex');

function configFor(replica: Replica, name: string, role: 'primary' | 'standby', followMs = 100) {
  return testConfig(join(root, name), { dnsbl: [], masterKey, replicaUrl: replica.url, role, failover: { fenceCheckMs: 100, followMs } });
}

async function replicaKeys(replica: Replica): Promise<string[]> {
  const t = replica.target();
  try {
    return (await t.list()).map((o) => o.key);
  } finally {
    t.close();
  }
}


async function health(port: number): Promise<{ role: unknown }> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: '/health', rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

function davPut(port: number, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, method: 'PUT', rejectUnauthorized: false, headers: { 'content-type': 'text/calendar', authorization: `Basic ${Buffer.from(`alice@example.org:${ALICE_PASSWORD}`).toString('base64')}` } }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves with the SMTP error once a send fails (the fence is noticed within fenceCheckMs). */
async function firstRefusal(port: number, deadlineMs = 20_000): Promise<{ responseCode?: number; response?: string }> {
  const until = Date.now() + deadlineMs;
  for (let i = 0; Date.now() < until; i++) {
    try {
      await sendToAlice(port, 1000 + i);
    } catch (err) {
      return err as { responseCode?: number; response?: string };
    }
  }
  throw new Error('the old primary kept accepting mail');
}

describe.each(replicaKinds())('standby and failover on one $name replica ($server)', (kind) => {
  const running: { close(): Promise<void> }[] = [];
  beforeAll(() => kind.setup());
  // Nodes first, then the replica's server: a node closing still talks to it.
  afterAll(async () => {
    for (const n of running.reverse()) await n.close().catch(() => {});
    await kind.teardown();
  });

  it('a standby follows, takes no change, promotes with every message, the old primary is fenced (451) even after a restart, and rejoins as a standby', async () => {
    const replica = kind.fresh('failover');
    const config = (name: string, role: 'primary' | 'standby') => configFor(replica, `${kind.name}-${name}`, role);
    const dataDir = (name: string) => join(root, `${kind.name}-${name}`);
    const a: NodeHandle = await startNode(config('a', 'primary'), { adminUi: false });
    running.push(a);
    await seedAlice(a, 5);

    const b: StandbyHandle = await startStandby(config('b', 'standby'));
    running.push(b);
    await b.catchUp();
    const st = await b.status();
    expect(st.role).toBe('standby');
    expect(st.follow.lastError).toBeNull();
    expect(st.follow.behindObjects).toBe(0);
    expect(st.history.map((h) => [h.epoch, h.how])).toEqual([[1, 'first']]);
    expect(b.node()).toBeNull();
    // Its control socket refuses changes and names the primary as the place for them.
    const refused = await askNode(dataDir('b'), { cmd: 'op', op: 'domain.add', input: { name: 'x.org' } });
    expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/standby/) });

    // More mail after the standby's first pass: it follows.
    for (let i = 5; i < 8; i++) await sendToAlice(a.ports.smtp!, i);
    await a.replication!.flush(20_000);

    const gensOf = async () => new Set((await replicaKeys(replica)).map((k) => parseKey(k)?.generation).filter((g): g is string => !!g));
    const primaryGens = await gensOf();
    const promoted = await askNode(dataDir('b'), { cmd: 'promote' });
    // The reply says what the standby's witness saw (none is configured here): `haven promote` prints it.
    expect(promoted).toEqual({ ok: true, promoted: true, witness: expect.objectContaining({ enabled: false }) });
    const bNode = b.node()!;
    expect(bNode).not.toBeNull();
    expect(await aliceInboxCount(bNode.ports.imaps!)).toBe(8);

    // The old primary stops acknowledging: a temporary 451 4.3.0, never a 5xx.
    const err = await firstRefusal(a.ports.smtp!);
    expect(err.responseCode).toBe(451);
    expect(err.response).toMatch(/4\.3\.0 .*epoch 2/);

    // /health says which node is the primary: the old one fenced (not ok), the new one primary at epoch 2.
    expect((await health(a.ports.https!)).role).toEqual({ role: 'fenced', epoch: 1, newerEpoch: 2, ok: false });
    expect((await health(bNode.ports.https!)).role).toEqual({ role: 'primary', epoch: 2, ok: true });

    // IMAP on the old primary: logging in drains the sealed mail into the mailbox, a write, so it is
    // refused with a temporary code (RFC 5530 3, UNAVAILABLE: "temporary failure ... the client may retry later").
    const ic = new ImapFlow({ host: '127.0.0.1', port: a.ports.imaps!, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.org', pass: ALICE_PASSWORD }, logger: false });
    const loginErr = await ic.connect().then(() => null, (e: Error & { serverResponseCode?: string }) => e);
    expect(loginErr?.serverResponseCode).toBe('UNAVAILABLE');

    // CalDAV on the old primary: a PUT is refused 503 (RFC 9110 15.6.4: temporary; nothing was changed).
    const put = await davPut(a.ports.https!, '/dav/calendars/alice@example.org/default/late.ics', ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', 'BEGIN:VEVENT', 'UID:late-1', 'DTSTAMP:20260301T090000Z', 'DTSTART:20260301T100000Z', 'DTEND:20260301T110000Z', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n'));
    expect(put.status).toBe(503);

    // The new primary takes mail.
    await sendToAlice(bNode.ports.smtp!, 99);
    expect(await aliceInboxCount(bNode.ports.imaps!)).toBe(9);

    // The old primary restarted: fenced at start, 451 at once, and not one object written to the replica.
    await a.close();
    await bNode.replication!.flush(20_000);
    // Generations the new primary started on promotion: its objects may keep landing in these.
    const newPrimaryGens = [...(await gensOf())].filter((g) => !primaryGens.has(g));
    expect(newPrimaryGens.length).toBeGreaterThan(0);
    const before = new Set(await replicaKeys(replica));
    const again = await startNode(config('a', 'primary'), { adminUi: false });
    running.push(again);
    const err2 = await firstRefusal(again.ports.smtp!, 2_000);
    expect(err2.responseCode).toBe(451);
    await again.close();
    const added = (await replicaKeys(replica)).filter((k) => !before.has(k));
    expect(added.filter((k) => !newPrimaryGens.includes(parseKey(k)?.generation ?? ''))).toEqual([]);

    // Restarted as a standby it rejoins: its old databases set aside with a report, a fresh restore, and it follows.
    const rejoined = await startStandby(config('a', 'standby'));
    running.push(rejoined);
    const rs = await rejoined.status();
    expect(rs.role).toBe('standby');
    expect(rs.diverged).toMatchObject({ heldEpoch: 1 });
    expect(rs.diverged!.databases.length).toBeGreaterThan(0);
    expect(rs.follow.lastError).toBeNull();
    expect(rs.follow.databases).toBe(rs.diverged!.databases.length);
    expect(rs.history.map((h) => h.epoch)).toEqual([1, 2]);
  }, 120_000);

  it('two standbys promoted at the same moment: exactly one node ends as the primary and takes mail; the other serves nothing or is fenced (451)', async () => {
    const replica = kind.fresh('race');
    const config = (name: string, role: 'primary' | 'standby', followMs?: number) => configFor(replica, `${kind.name}-race-${name}`, role, followMs);
    const a: NodeHandle = await startNode(config('a', 'primary'), { adminUi: false });
    running.push(a);
    await seedAlice(a, 3);

    // Both caught up and with no pass of their own due (followMs of ten minutes), so that both
    // promotions go straight to reading the newest epoch and creating the next: a collision on one name.
    const standbys: StandbyHandle[] = [await startStandby(config('b', 'standby', 600_000)), await startStandby(config('c', 'standby', 600_000))];
    running.push(...standbys);
    await Promise.all(standbys.map((s) => s.catchUp()));
    const results = await Promise.all(standbys.map((s) => s.promote()));
    const won = results.filter((r) => r.promoted).length;

    const t = replica.target();
    const history = await epochHistory(t).finally(() => t.close());
    // Every win is an epoch of its own, one after another; none is shared.
    expect(history.map((h) => [h.epoch, h.how])).toEqual([[1, 'first'], ...Array.from({ length: won }, (_, i) => [i + 2, 'promote'])]);
    const latest = history.at(-1)!.epoch;
    for (const [i, r] of results.entries()) {
      if (r.promoted) continue;
      // The loser stands by: no listener, its role says so.
      expect(standbys[i].node()).toBeNull();
      expect((await standbys[i].status()).role).toBe('standby');
    }

    // A node that won an older epoch sees the newer one within its check interval and is fenced: wait for
    // the roles to settle (a condition), then exactly one serving node is the primary, at the newest epoch.
    const serving = standbys.map((s) => s.node()).filter((n): n is NodeHandle => n !== null);
    expect(serving).toHaveLength(won);
    let roles: { role: unknown; epoch?: unknown }[] = [];
    for (const until = Date.now() + 20_000; Date.now() < until; ) {
      roles = await Promise.all(serving.map(async (n) => (await health(n.ports.https!)).role as { role: unknown; epoch?: unknown }));
      if (roles.filter((r) => r.role === 'primary').length <= 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(roles.filter((r) => r.role === 'primary')).toEqual([expect.objectContaining({ role: 'primary', epoch: latest })]);
    const primary = serving[roles.findIndex((r) => r.role === 'primary')];
    for (const n of serving.filter((n) => n !== primary)) expect((await firstRefusal(n.ports.smtp!, 5_000)).responseCode).toBe(451);
    console.log(`promotion race of two nodes on ${kind.name}: ${won === 1 ? 'a collision on epoch 2, one winner' : `${won} epochs taken in turn, the older holder fenced`}`);

    // The one primary takes mail and has everything; the old primary refuses with 451.
    await sendToAlice(primary.ports.smtp!, 3);
    expect(await aliceInboxCount(primary.ports.imaps!)).toBe(4);
    expect((await firstRefusal(a.ports.smtp!)).responseCode).toBe(451);
  }, 120_000);
});
