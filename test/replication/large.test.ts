/**
 * @module test/replication/large
 * Databases larger than one replica object: a snapshot goes out as a
 * snapshot object and `part` objects, none larger than the object size (so
 * a mailbox of gigabytes never sits in the node's memory whole), and comes
 * back whole; a point in time before it still restores; a missing piece is
 * detected and named. A single commit larger than an object ships whole
 * instead of stalling replication.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReplicaCorruptError, replicate, restore, restoreIfEmpty, verifyBackup } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, sampleMessage } from '../helpers/store.js';
import { dumpMailbox, filesUnder, tempDir } from './helpers.js';

const OBJECT = 32 * 1024;

describe('snapshots in pieces', () => {
  it('ships a large database as a snapshot and parts within the object size and restores it whole', async () => {
    const replica = tempDir('large');
    const url = `file://${replica}`;
    const t = makeTestStore();
    const rep = replicate({ url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0, maxObjectBytes: OBJECT });
    const store = t.reopen();
    store.directory.addDomain('example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    for (let i = 0; i < 20; i++) await store.deliver(bob.account.id, sampleMessage({ subject: `large ${i}`, body: `${i} `.repeat(3000) }));
    await rep.flush();
    const beforeSnapshot = Date.now();
    while (Date.now() <= beforeSnapshot) {
      /* later commits are stamped strictly later */
    }
    const early = await dumpMailbox(store, 'bob@example.test', 'bob password long');
    await rep.backupNow();
    for (let i = 20; i < 23; i++) await store.deliver(bob.account.id, sampleMessage({ subject: `after ${i}` }));
    await rep.flush();
    const before = await dumpMailbox(store, 'bob@example.test', 'bob password long');
    store.close();
    await rep.stop();

    const db = `mailbox-${bob.account.id}`;
    const objects = filesUnder(replica);
    const parts = [...objects.keys()].filter((k) => k.startsWith(db) && k.endsWith('.part'));
    expect(parts.length).toBeGreaterThan(3);
    // Snapshot pieces keep to the object size; a single commit bigger than it (one delivery here) ships
    // whole as one larger WAL object rather than stalling replication.
    for (const [key, bytes] of objects) if (!key.endsWith('.wal')) expect(bytes.length, key).toBeLessThanOrEqual(OBJECT + 2048);
    expect([...objects].some(([key, bytes]) => key.endsWith('.wal') && bytes.length > OBJECT)).toBe(true);
    const mailboxBytes = statSync(join(t.dataDir, 'mailboxes', `${bob.account.id}.sqlite`)).size;
    expect(mailboxBytes).toBeGreaterThan(4 * OBJECT);

    const check = async (at: Date | undefined, want: typeof before) => {
      const into = tempDir('large-into');
      try {
        const r = await restore({ target: url, into, at, masterKey: t.masterKey });
        expect(r.databases.every((d) => d.verified === 'integrity_check')).toBe(true);
        const s = Store.open({ dataDir: into, masterKey: t.masterKey });
        try {
          expect(await dumpMailbox(s, 'bob@example.test', 'bob password long')).toEqual(want);
        } finally {
          s.close();
        }
      } finally {
        rmSync(into, { recursive: true, force: true });
      }
    };
    await check(undefined, before);
    await check(new Date(beforeSnapshot), early);

    // Verify compares page by page, or for databases past a size (memory), page counts and integrity.
    const full = await verifyBackup({ target: url, dataDir: t.dataDir, masterKey: t.masterKey });
    expect(full.ok).toBe(true);
    expect(full.databases.find((d) => d.db === db)).toEqual({ db, result: 'same' });
    const bySize = await verifyBackup({ target: url, dataDir: t.dataDir, masterKey: t.masterKey, plainCompareMaxBytes: OBJECT });
    expect(bySize.ok).toBe(true);
    expect(bySize.databases.find((d) => d.db === db)).toEqual({ db, result: 'pages-match', detail: 'large: page counts and integrity compared' });

    // A piece of the newest snapshot goes missing: the restore says which one.
    const gen = readdirSync(join(replica, db))[0];
    const newestSnapshot = readdirSync(join(replica, db, gen)).filter((f) => f.endsWith('.snapshot')).sort().at(-1)!;
    const firstIndex = parseInt(newestSnapshot, 16);
    const victim = `${(firstIndex + 2).toString(16).padStart(16, '0')}.part`;
    rmSync(join(replica, db, gen, victim));
    const into = tempDir('large-broken');
    try {
      const err = await restore({ target: url, into, masterKey: t.masterKey }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReplicaCorruptError);
      expect((err as ReplicaCorruptError).problems).toEqual([expect.objectContaining({ db, key: `${db}/${gen}/${victim}` })]);
    } finally {
      rmSync(into, { recursive: true, force: true });
    }
    // A rebuilt node whose restore fails part-way keeps an empty data directory: the next boot tries again.
    const fresh = tempDir('large-boot');
    try {
      await expect(restoreIfEmpty({ url, dataDir: fresh, masterKey: t.masterKey, log: silentLogger })).rejects.toBeInstanceOf(ReplicaCorruptError);
      expect(existsSync(join(fresh, 'directory.sqlite'))).toBe(false);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
    rmSync(replica, { recursive: true, force: true });
    t.cleanup();
  });
});
