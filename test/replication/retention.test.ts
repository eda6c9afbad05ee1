/**
 * @module test/replication/retention
 * Scheduled snapshots inside a generation and retention: a restore starts
 * from the newest snapshot, a point in time before it still replays from an
 * older one, and once retention pruned that history a restore to before it
 * is refused rather than silently landing later.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RestoreRefusedError, restore, replicate } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, sampleMessage } from '../helpers/store.js';
import { tempDir } from './helpers.js';

async function subjects(dataDir: string, masterKey: Buffer, accountId: string): Promise<string[]> {
  const s = Store.open({ dataDir, masterKey });
  try {
    const l = await s.openMailbox(accountId);
    const out = l.mailbox.messages.list(l.mailbox.folders.require('INBOX').id).map((m) => l.mailbox.messages.raw(m.blobId).toString().match(/^Subject: (.*)$/m)![1]);
    l.release();
    return out;
  } finally {
    s.close();
  }
}

function tick(): number {
  const now = Date.now();
  while (Date.now() <= now) {
    /* commits after this instant are stamped strictly later */
  }
  return now;
}

describe('snapshots and retention', () => {
  it('restores from the newest snapshot, replays from older ones for a point in time, refuses pruned history', async () => {
    const replica = tempDir('retention');
    const url = `file://${replica}`;
    const t = makeTestStore();
    // A snapshot at every checkpoint, a checkpoint whenever the WAL is fully shipped.
    const rep = replicate({ url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0, snapshotIntervalMs: 0, checkpointBytes: 1, retentionMs: 60_000 });
    const store = t.reopen();
    store.directory.addDomain('example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    await store.deliver(bob.account.id, sampleMessage({ subject: 'one' }));
    await rep.flush();
    const afterOne = tick();
    await store.deliver(bob.account.id, sampleMessage({ subject: 'two' }));
    await rep.flush();
    await store.deliver(bob.account.id, sampleMessage({ subject: 'three' }));
    await rep.flush();
    store.close();
    await rep.stop();

    const db = `mailbox-${bob.account.id}`;
    const genDir = join(replica, db, readdirSync(join(replica, db))[0]);
    const snaps = readdirSync(genDir).filter((f) => f.endsWith('.snapshot'));
    expect(snaps.length).toBeGreaterThanOrEqual(3);

    const check = async (at: Date | undefined, want: string[]) => {
      const into = tempDir('retention-into');
      try {
        const r = await restore({ target: url, into, at, masterKey: t.masterKey });
        expect(r.databases.every((d) => d.verified === 'integrity_check')).toBe(true);
        expect(await subjects(into, t.masterKey, bob.account.id)).toEqual(want);
      } finally {
        rmSync(into, { recursive: true, force: true });
      }
    };
    await check(undefined, ['one', 'two', 'three']);
    await check(new Date(afterOne), ['one']);

    // Retention with a window of zero: everything before each generation's newest snapshot goes.
    const pruner = replicate({ url, dataDir: tempDir('pruner'), log: silentLogger, retentionCheckMs: 0, retentionMs: 0 });
    const { deleted } = await pruner.runRetention();
    await pruner.stop();
    expect(deleted).toBeGreaterThan(0);
    const left = readdirSync(genDir);
    expect(left[0]).toMatch(/\.snapshot$/);
    expect(left.length).toBeLessThan(snaps.length * 2);
    await check(undefined, ['one', 'two', 'three']);
    const into = tempDir('retention-refused');
    await expect(restore({ target: url, into, at: new Date(afterOne), masterKey: t.masterKey })).rejects.toBeInstanceOf(RestoreRefusedError);
    rmSync(into, { recursive: true, force: true });
    rmSync(replica, { recursive: true, force: true });
    t.cleanup();
  });
});
