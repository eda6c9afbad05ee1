/**
 * @module test/replication/outage
 * The object store goes away in the middle of deliveries: mail keeps being
 * accepted, lag and the WAL alarm show it, frames past the ceiling and those
 * of a mailbox that closes wait in the local outbox, and when the store is
 * back everything ships with no gap and no new generation.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restore, replicate } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, sampleMessage } from '../helpers/store.js';
import { dumpMailbox, startS3, tempDir, type TestS3 } from './helpers.js';

describe('replica outage', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3('outage');
  });
  afterAll(async () => {
    await s3.cleanup();
  });

  it('loses nothing, recovers its lag and leaves no gap', async () => {
    const t = makeTestStore();
    const rep = replicate({
      url: s3.url,
      dataDir: t.dataDir,
      log: silentLogger,
      retentionCheckMs: 0,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      walAlarmBytes: 100_000,
      walCeilingBytes: 300_000,
    });
    const store = t.reopen();
    store.directory.addDomain('example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    for (let i = 0; i < 3; i++) await store.deliver(bob.account.id, sampleMessage({ subject: `before ${i}` }));
    await rep.flush();
    const gens = rep.status().generationsStarted;
    expect(gens).toBe(3);

    await s3.stop();
    for (let i = 0; i < 12; i++) {
      // Mail is accepted (durable) while the replica is unreachable.
      expect((await store.deliver(bob.account.id, sampleMessage({ subject: `during ${i}`, body: 'z'.repeat(20_000) }))).where).toBe('mailbox');
      // Closing a mailbox mid-outage: its unshipped frames must survive SQLite's close-time checkpoint.
      if (i === 5) store.lock(bob.account.id);
    }
    await expect.poll(() => rep.status().lastError).toBeTruthy();
    const down = rep.status();
    expect(down.healthy).toBe(false);
    expect(down.lagMs).toBeGreaterThan(0);
    expect(down.outboxObjects).toBeGreaterThan(0);

    await s3.start();
    await rep.flush();
    const up = rep.status();
    expect(up).toMatchObject({ lagMs: 0, healthy: true, walAlarm: false, outboxObjects: 0, pendingObjects: 0, generationsStarted: gens });
    const live = await dumpMailbox(store, 'bob@example.test', 'bob password long');
    expect(live.messages.length).toBe(15);
    store.close();
    await rep.stop();

    const into = tempDir('outage-restore');
    try {
      const r = await restore({ target: s3.url, into, masterKey: t.masterKey });
      // One generation per database: the chain ran through the outage unbroken.
      expect(new Set(r.databases.map((d) => d.db)).size).toBe(r.databases.length);
      expect(r.databases.every((d) => d.verified === 'integrity_check')).toBe(true);
      const s = Store.open({ dataDir: into, masterKey: t.masterKey });
      expect(await dumpMailbox(s, 'bob@example.test', 'bob password long')).toEqual(live);
      s.close();
    } finally {
      rmSync(into, { recursive: true, force: true });
      t.cleanup();
    }
  });

  it('raises the WAL alarm while frames wait and clears it once shipped', async () => {
    const t = makeTestStore();
    const url = s3.url.replace('/outage?', '/alarm?');
    const rep = replicate({ url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0, minBackoffMs: 20, maxBackoffMs: 100, walAlarmBytes: 50_000 });
    const store = t.reopen();
    store.directory.addDomain('example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    await rep.flush();
    await s3.stop();
    for (let i = 0; i < 4; i++) await store.deliver(bob.account.id, sampleMessage({ body: 'w'.repeat(30_000) }));
    expect(rep.status().walAlarm).toBe(true);
    await s3.start();
    await rep.flush();
    expect(rep.status().walAlarm).toBe(false);
    store.close();
    await rep.stop();
    t.cleanup();
  });
});
