/**
 * The primary's lease closes the window in which a fenced primary still
 * acknowledges (issue 19, gap 3). The argument, checked here piece by piece:
 * the primary acknowledges only while its last read that found no newer
 * epoch began at most leaseMs ago; a standby creates epoch n+1 after any
 * such read began; so the old primary acknowledges nothing later than
 * leaseMs after the new epoch exists, even when it cannot reach the replica
 * to see it. The promoting standby waits the old primary's lease (from its
 * epoch record) before its last pass, and records what it took; the old
 * primary, rejoining, reports whatever it acknowledged that the new primary
 * lacks: never shipped, or shipped after the takeover.
 *
 * Scenario tests run two real nodes on loopback over one replica, a
 * directory and moto's S3 server alike (test/replication/replicas); the old
 * primary reaches it by a way the test can cut, as a network partition
 * would: for the directory a symbolic link pointed at a plain file (every
 * replica call then fails with ENOTDIR), for S3 a TCP relay that drops its
 * connections and refuses new ones.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { readEpoch } from '../../node/replication/epoch.js';
import { leaseFor, takeoverWait } from '../../node/replication/failover.js';
import { leaseLapsed } from '../../node/replication/fence.js';
import { readTakeover, shippedPastTakeover } from '../../node/replication/takeover.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';
import { replicaKinds, type Replica } from './replicas.js';

describe('the lease, pure', () => {
  it('lapses only past leaseMs from the start of the last confirming read; 0 is no lease', () => {
    expect(leaseLapsed(1000, 1999, 1000)).toBe(false);
    expect(leaseLapsed(1000, 2000, 1000)).toBe(false);
    expect(leaseLapsed(1000, 2001, 1000)).toBe(true);
    expect(leaseLapsed(-Infinity, 5, 1000)).toBe(true);
    expect(leaseLapsed(0, 1e9, 0)).toBe(false);
  });
  it('the taker waits the old holder\'s lease plus one check interval; a holder without a lease, two intervals plus one', () => {
    expect(takeoverWait({ epoch: 1, node: 'a', at: 0, how: 'first', leaseMs: 3000 }, 1000)).toBe(4000);
    expect(takeoverWait({ epoch: 1, node: 'a', at: 0, how: 'first' }, 1000)).toBe(3000);
    expect(takeoverWait(null, 100)).toBe(300);
  });
  it('a lease outlasts two checks, and 0 keeps it off', () => {
    const c = (fenceLeaseMs: number, fenceCheckMs: number) => testConfig('/nonexistent', { failover: { fenceLeaseMs, fenceCheckMs } });
    expect(leaseFor(c(3000, 1000))).toBe(3000);
    expect(leaseFor(c(500, 1000))).toBe(2000);
    expect(leaseFor(c(0, 1000))).toBe(0);
  });
  it('a database counts as shipped past the takeover when its saved position is beyond what the new primary applied', () => {
    const took = { generation: '00000000000000000002', index: 7 };
    expect(shippedPastTakeover(null, took)).toBe(false);
    expect(shippedPastTakeover({ generation: took.generation, index: 7 }, took)).toBe(false);
    expect(shippedPastTakeover({ generation: took.generation, index: 8 }, took)).toBe(true);
    expect(shippedPastTakeover({ generation: '00000000000000000003', index: 0 }, took)).toBe(true);
    expect(shippedPastTakeover({ generation: '00000000000000000001', index: 99 }, took)).toBe(false);
    // The new primary applied nothing of a database the old one shipped.
    expect(shippedPastTakeover({ generation: took.generation, index: 0 }, undefined)).toBe(true);
  });
});

const root = mkdtempSync(join(tmpdir(), 'haven-lease-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const masterKey = randomBytes(32).toString('hex');
const PASSWORD = 'alice has a long password';
const LEASE_MS = 2000;

function config(name: string, role: 'primary' | 'standby', replicaUrl: string, leaseMs = LEASE_MS) {
  return testConfig(join(root, name), { dnsbl: [], masterKey, replicaUrl, role, failover: { fenceCheckMs: 100, followMs: 100, fenceLeaseMs: leaseMs } });
}

async function onReplica<T>(replica: Replica, fn: (t: ReturnType<Replica['target']>) => Promise<T>): Promise<T> {
  const t = replica.target();
  try {
    return await fn(t);
  } finally {
    t.close();
  }
}

function send(port: number, subject: string): Promise<unknown> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  return t.sendMail({ from: 'bob@example.net', to: 'alice@example.org', subject, text: `body of ${subject}` }).finally(() => t.close());
}

async function subjects(port: number): Promise<string[]> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.org', pass: PASSWORD }, logger: false });
  await c.connect();
  try {
    const lock = await c.getMailboxLock('INBOX');
    try {
      const out: string[] = [];
      for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
      return out.sort();
    } finally {
      lock.release();
    }
  } finally {
    await c.logout();
  }
}

describe.each(replicaKinds())('on a $name replica ($server)', (kind) => {
  const running: { close(): Promise<void> }[] = [];
  beforeAll(() => kind.setup());
  // Nodes first, then the replica's server: a node closing still talks to it.
  afterAll(async () => {
    for (const n of running.reverse()) await n.close().catch(() => {});
    await kind.teardown();
  });

  describe('a primary still connected while a standby takes over', () => {
    it('acknowledges nothing after the promotion returns, and every message it acknowledged is on the new primary or reported when it rejoins', async () => {
      const replica = kind.fresh('live').url;
      const name = (n: string) => `${kind.name}-${n}`;
      // The production lease (3 s): on a loaded test machine a shorter one refuses mail before any promotion.
      const c: NodeHandle = await startNode(config(name('c'), 'primary', replica, 3000), { adminUi: false });
      running.push(c);
      await c.operations.call('domain.add', { name: 'example.org' });
      await c.operations.call('account.add', { address: 'alice@example.org', password: PASSWORD });
      for (const s of ['early 0', 'early 1']) await send(c.ports.smtp!, s);
      await c.replication!.flush(20_000);
      const d: StandbyHandle = await startStandby(config(name('d'), 'standby', replica, 3000));
      running.push(d);

      // Two senders keep delivering to the old primary while the standby takes over.
      const acked: { subject: string; at: number }[] = [];
      let promotedAt = Infinity;
      let stop = false;
      const sender = async (k: number) => {
        let refusals = 0;
        for (let i = 0; !stop && refusals < 3; i++) {
          const subject = `live ${k}-${i}`;
          await send(c.ports.smtp!, subject).then(
            () => acked.push({ subject, at: performance.now() }),
            (err: { responseCode?: number }) => {
              expect(err.responseCode).toBe(451);
              refusals++;
            },
          );
        }
      };
      const senders = [sender(0), sender(1)];
      while (acked.length < 4) await new Promise((r) => setTimeout(r, 20));
      expect(await d.promote()).toMatchObject({ promoted: true });
      promotedAt = performance.now();
      await Promise.all(senders);
      stop = true;
      // The lease and the wait: by the time the promotion returned, the old primary had stopped acknowledging.
      expect(acked.filter((a) => a.at > promotedAt)).toEqual([]);

      const onD = await subjects(d.node()!.ports.imaps!);
      const missing = acked.map((a) => a.subject).filter((s) => !onD.includes(s));
      await c.close();
      const again: StandbyHandle = await startStandby(config(name('c'), 'standby', replica, 3000));
      running.push(again);
      const { diverged } = await again.status();
      // Never silently lost: whatever the new primary lacks is in a database the report names.
      expect({ missing: missing.length, reported: (diverged?.unshipped.length ?? 0) > 0 || missing.length === 0 }).toEqual({ missing: missing.length, reported: true });
      expect(onD).toEqual(expect.arrayContaining(['early 0', 'early 1']));
    }, 120_000);
  });

  describe('a primary cut off from the replica while a standby takes over', () => {
    it('stops acknowledging within its lease, the promotion waits the lease out, and what it acknowledged meanwhile is reported when it rejoins', async () => {
      const partition = await kind.cuttable('cut');
      running.push(partition);
      const replica = partition.replica.url;
      const name = (n: string) => `${kind.name}-${n}`;

      const a: NodeHandle = await startNode(config(name('a'), 'primary', partition.viaUrl), { adminUi: false });
      running.push(a);
      await a.operations.call('domain.add', { name: 'example.org' });
      await a.operations.call('account.add', { address: 'alice@example.org', password: PASSWORD });
      const before = ['before 0', 'before 1', 'before 2'];
      for (const s of before) await send(a.ports.smtp!, s);
      await a.replication!.flush(20_000);
      const b: StandbyHandle = await startStandby(config(name('b'), 'standby', replica));
      running.push(b);
      await b.catchUp();
      expect((await onReplica(partition.replica, (t) => readEpoch(t, 1)))?.leaseMs).toBe(LEASE_MS);

      // The partition: a can no longer read or write the replica, so it cannot see a new epoch.
      partition.cut();
      const cutAt = performance.now();
      const acked: string[] = [];
      let refusal: { responseCode?: number; response?: string } | null = null;
      for (let i = 0; refusal === null; i++) {
        if (performance.now() - cutAt > LEASE_MS + 10_000) throw new Error(`the cut-off primary kept acknowledging (${acked.length} messages)`);
        await send(a.ports.smtp!, `after ${i}`).then(
          () => acked.push(`after ${i}`),
          (err: { responseCode?: number; response?: string }) => (refusal = err),
        );
      }
      const refusedAt = performance.now();
      // RFC 5321 §4.2.1 / RFC 3463 §3.4: a transient 451 4.3.0, so the sender retries (and later reaches the new primary).
      expect(refusal).toMatchObject({ responseCode: 451, response: expect.stringMatching(/4\.3\.0 .*could not confirm in the replica/) });
      // It stopped on its own lease (the last confirming read began before the cut), whatever it could see.
      expect(refusedAt - cutAt).toBeLessThan(LEASE_MS + 5000);

      // Meanwhile the standby takes epoch 2; its promotion waits out a's lease from the record.
      const t0 = performance.now();
      expect(await b.promote()).toMatchObject({ promoted: true });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(LEASE_MS);
      const took = await onReplica(partition.replica, (t) => readTakeover(t, 2));
      expect(took).toMatchObject({ epoch: 2 });
      expect(Object.keys(took!.applied)).toContain('directory');

      // The new primary has every message a shipped; those a acknowledged cut off are not there.
      const onB = await subjects(b.node()!.ports.imaps!);
      expect(onB).toEqual(expect.arrayContaining(before));
      const missing = acked.filter((s) => !onB.includes(s));

      // The partition heals; a is fenced, and restarted as a standby reports what only it has.
      await partition.heal();
      await a.close();
      const again: StandbyHandle = await startStandby(config(name('a'), 'standby', replica));
      running.push(again);
      const { diverged } = await again.status();
      expect(diverged).not.toBeNull();
      // Cut off, a shipped none of them; at least one was acknowledged in the window the lease bounds.
      expect(acked.length).toBeGreaterThan(0);
      expect(missing).toEqual(acked);
      // Never silently lost: the databases they went to are reported unshipped, with their bytes set aside.
      expect(diverged!.unshipped.length).toBeGreaterThan(0);
      expect(diverged!.databases.some((d) => diverged!.unshipped.includes(d.db) && (d.unshippedWalBytes > 0 || d.outboxObjects > 0))).toBe(true);
    }, 120_000);
  });
});
