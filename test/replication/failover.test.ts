/**
 * Two real nodes on loopback sharing one file replica (issue 19): a
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
import { pathToFileURL } from 'node:url';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { askNode } from '../../node/admin/control.js';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { parseKey } from '../../node/replication/object.js';
import { FileTarget } from '../../node/replication/target.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';

const root = mkdtempSync(join(tmpdir(), 'haven-failover-'));
const running: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const n of running.reverse()) await n.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const masterKey = randomBytes(32).toString('hex');
const replicaDir = join(root, 'replica');
const PASSWORD = 'alice has a long password';

function config(name: string, role: 'primary' | 'standby') {
  return testConfig(join(root, name), { dnsbl: [], masterKey, replicaUrl: pathToFileURL(replicaDir).href, role, failover: { fenceCheckMs: 100, followMs: 100 } });
}

function send(port: number, n: number) {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, tls: { rejectUnauthorized: false } });
  return t.sendMail({ from: 'bob@example.net', to: 'alice@example.org', subject: `message ${n}`, text: `body ${n}` }).finally(() => t.close());
}

async function inboxCount(port: number): Promise<number> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.org', pass: PASSWORD }, logger: false });
  await c.connect();
  try {
    const s = await c.status('INBOX', { messages: true });
    return s ? (s.messages ?? -1) : -1;
  } finally {
    await c.logout();
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
    const req = https.request({ host: '127.0.0.1', port, path, method: 'PUT', rejectUnauthorized: false, headers: { 'content-type': 'text/calendar', authorization: `Basic ${Buffer.from(`alice@example.org:${PASSWORD}`).toString('base64')}` } }, (res) => {
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
      await send(port, 1000 + i);
    } catch (err) {
      return err as { responseCode?: number; response?: string };
    }
  }
  throw new Error('the old primary kept accepting mail');
}

describe('standby and failover on one file replica', () => {
  it('a standby follows, takes no change, promotes with every message, the old primary is fenced (451) even after a restart, and rejoins as a standby', async () => {
    const a: NodeHandle = await startNode(config('a', 'primary'), { adminUi: false });
    running.push(a);
    await a.operations.call('domain.add', { name: 'example.org' });
    await a.operations.call('account.add', { address: 'alice@example.org', password: PASSWORD });
    for (let i = 0; i < 5; i++) await send(a.ports.smtp!, i);
    await a.replication!.flush(20_000);

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
    const refused = await askNode(join(root, 'b'), { cmd: 'op', op: 'domain.add', input: { name: 'x.org' } });
    expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/standby/) });

    // More mail after the standby's first pass: it follows.
    for (let i = 5; i < 8; i++) await send(a.ports.smtp!, i);
    await a.replication!.flush(20_000);

    const gensOf = async () => new Set((await new FileTarget(replicaDir).list()).map((o) => parseKey(o.key)?.generation).filter((g): g is string => !!g));
    const primaryGens = await gensOf();
    const promoted = await askNode(join(root, 'b'), { cmd: 'promote' });
    expect(promoted).toEqual({ ok: true, promoted: true });
    const bNode = b.node()!;
    expect(bNode).not.toBeNull();
    expect(await inboxCount(bNode.ports.imaps!)).toBe(8);

    // The old primary stops acknowledging: a temporary 451 4.3.0, never a 5xx.
    const err = await firstRefusal(a.ports.smtp!);
    expect(err.responseCode).toBe(451);
    expect(err.response).toMatch(/4\.3\.0 .*epoch 2/);

    // /health says which node is the primary: the old one fenced (not ok), the new one primary at epoch 2.
    expect((await health(a.ports.https!)).role).toEqual({ role: 'fenced', epoch: 1, newerEpoch: 2, ok: false });
    expect((await health(bNode.ports.https!)).role).toEqual({ role: 'primary', epoch: 2, ok: true });

    // IMAP on the old primary: logging in drains the sealed mail into the mailbox, a write, so it is
    // refused with a temporary code (RFC 5530 3, UNAVAILABLE: "temporary failure ... the client may retry later").
    const ic = new ImapFlow({ host: '127.0.0.1', port: a.ports.imaps!, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.org', pass: PASSWORD }, logger: false });
    const loginErr = await ic.connect().then(() => null, (e: Error & { serverResponseCode?: string }) => e);
    expect(loginErr?.serverResponseCode).toBe('UNAVAILABLE');

    // CalDAV on the old primary: a PUT is refused 503 (RFC 9110 15.6.4: temporary; nothing was changed).
    const put = await davPut(a.ports.https!, '/dav/calendars/alice@example.org/default/late.ics', ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', 'BEGIN:VEVENT', 'UID:late-1', 'DTSTAMP:20260301T090000Z', 'DTSTART:20260301T100000Z', 'DTEND:20260301T110000Z', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n'));
    expect(put.status).toBe(503);

    // The new primary takes mail.
    await send(bNode.ports.smtp!, 99);
    expect(await inboxCount(bNode.ports.imaps!)).toBe(9);

    // The old primary restarted: fenced at start, 451 at once, and not one object written to the replica.
    await a.close();
    await bNode.replication!.flush(20_000);
    // Generations the new primary started on promotion: its objects may keep landing in these.
    const newPrimaryGens = [...(await gensOf())].filter((g) => !primaryGens.has(g));
    expect(newPrimaryGens.length).toBeGreaterThan(0);
    const before = new Set((await new FileTarget(replicaDir).list()).map((o) => o.key));
    const again = await startNode(config('a', 'primary'), { adminUi: false });
    running.push(again);
    const err2 = await firstRefusal(again.ports.smtp!, 2_000);
    expect(err2.responseCode).toBe(451);
    await again.close();
    const added = (await new FileTarget(replicaDir).list()).map((o) => o.key).filter((k) => !before.has(k));
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
});
