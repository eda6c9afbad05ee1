/**
 * Every database is in the replica from its first byte (issue 15): one the
 * node creates is shipped before the operation that made it reports done;
 * one that exists on disk but was never shipped (made while replication was
 * off, or by an older version) is shipped when the replicator starts, without
 * being opened (a zero-access mailbox cannot be); and a restart after that
 * continues its chain instead of starting another generation.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { localOperations } from '../../node/admin/operations.js';
import { openTarget, replicaSummary, replicate, restore } from '../../node/replication/index.js';
import { databaseFiles } from '../../node/store/layout.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';
import { tempDir } from './helpers.js';

async function replicaDbs(url: string) {
  const target = openTarget(url);
  try {
    return replicaSummary(await target.list());
  } finally {
    target.close();
  }
}

describe('replicated from birth', () => {
  let t: TestStore;
  let replicaDir: string;
  afterEach(() => {
    t.cleanup();
    rmSync(replicaDir, { recursive: true, force: true });
  });

  it('a mailbox made by an operation is in the replica when the operation answers', async () => {
    t = makeTestStore();
    replicaDir = tempDir('birth-op');
    const url = `file://${replicaDir}`;
    t.store.close();
    const rep = replicate({ url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    const store = t.reopen();
    try {
      const ops = localOperations({ store, log: silentLogger, replicated: (ms) => rep.flush(ms) });
      await ops.call('domain.add', { name: 'example.test' });
      const r = await ops.call('account.add', { address: 'alice@example.test', password: 'a long enough password' });
      expect(r.replicated).toBe(true);
      // Nothing waits for the replica: the operation answered only once it held the new mailbox.
      const names = (await replicaDbs(url)).map((d) => d.db);
      expect(names).toEqual(databaseFiles(t.dataDir).map((f) => f.name));
      expect(names.filter((n) => n.startsWith('mailbox-'))).toHaveLength(1);
    } finally {
      store.close();
      await rep.stop();
    }
  });

  it('a closed database never shipped is shipped at start without being opened, and its chain continues after a restart', async () => {
    t = makeTestStore();
    replicaDir = tempDir('birth-closed');
    const url = `file://${replicaDir}`;
    // Made with no replicator running: the mailbox is closed and zero-access (nobody can open it now).
    const { account } = await addAccount(t.store, 'bob@example.test');
    t.store.close();
    const mailbox = `mailbox-${account.id}`;

    const first = replicate({ url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    await first.flush(20_000);
    expect(first.databases().map((d) => d.db)).toContain(mailbox);
    await first.stop();
    const shipped = (await replicaDbs(url)).find((d) => d.db === mailbox)!;
    expect(shipped).toBeDefined();
    expect(shipped.snapshots).toBe(1);

    // A restart: the file is as it was shipped, so no new generation.
    const second = replicate({ url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    await second.flush(20_000);
    expect(second.status().generationsStarted).toBe(0);
    expect(second.status().missing).toEqual([]);
    await second.stop();
    expect((await replicaDbs(url)).find((d) => d.db === mailbox)!.generation).toBe(shipped.generation);

    // And the restore brings it back, byte for byte the file that was shipped.
    const into = tempDir('birth-restore');
    try {
      const r = await restore({ target: url, into, masterKey: t.masterKey });
      expect(r.databases.map((d) => d.db)).toContain(mailbox);
    } finally {
      rmSync(into, { recursive: true, force: true });
    }
  });
});
