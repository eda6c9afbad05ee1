/**
 * An old primary rejoining as a standby (issue 19, "Rejoin": "anything it
 * had not shipped is reported, never silently merged"): on real encrypted
 * databases replicated to a file replica, a write made after the last
 * shipment is found and named, the databases move aside whole into
 * diverged-<time>/ with report.json, and a directory that never was a
 * primary's is left alone.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Fence } from '../../node/replication/epoch.js';
import { replicate } from '../../node/replication/index.js';
import { setAsideDiverged, unshippedIn, type DivergenceReport } from '../../node/replication/rejoin.js';
import type { TakeoverRecord } from '../../node/replication/takeover.js';
import { FileTarget } from '../../node/replication/target.js';
import { loadSaved } from '../../node/replication/tracker.js';
import { databaseFiles } from '../../node/store/layout.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';
import { tempDir } from './helpers.js';

let t: TestStore;
let replicaDir: string;
afterEach(() => {
  t?.cleanup();
  rmSync(replicaDir, { recursive: true, force: true });
});

describe('rejoin of an old primary', () => {
  it('names the database written after its last shipment, sets every database aside with a report, and leaves a fresh directory', async () => {
    t = makeTestStore();
    replicaDir = tempDir('rejoin');
    const { account } = await addAccount(t.store, 'alice@example.test');
    t.store.close();
    // As primary: an epoch, and everything shipped.
    const fence = new Fence(new FileTarget(replicaDir), t.dataDir, silentLogger, { role: 'primary' });
    await fence.boot(false);
    const rep = replicate({ url: `file://${replicaDir}`, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    let store = t.reopen();
    await store.deliver(account.id, sampleMessage({ subject: 'shipped' }));
    await rep.flush(20_000);
    store.close();
    await rep.stop();
    expect(unshippedIn(t.dataDir).filter((d) => d.changedSinceShipped || d.unshippedWalBytes > 0 || d.neverShipped)).toEqual([]);

    // Mail taken after the replica stopped hearing from it (its replicator gone, as when it was cut off).
    store = t.reopen();
    await store.deliver(account.id, sampleMessage({ subject: 'never shipped' }));
    store.close();
    const names = databaseFiles(t.dataDir).map((f) => f.name);
    const report = setAsideDiverged(t.dataDir, silentLogger, Date.parse('2026-12-07T12:00:00Z')) as DivergenceReport;
    expect(report).not.toBeNull();
    expect(report.heldEpoch).toBe(1);
    // Zero-access: mail for a mailbox nobody has open is sealed into the spool.
    expect(report.unshipped).toEqual(['spool']);
    expect(report.databases.map((d) => d.db).sort()).toEqual([...names].sort());
    expect(report.dir).toBe(join(t.dataDir, 'diverged-2026-12-07T12-00-00-000Z'));
    expect(JSON.parse(readFileSync(join(report.dir, 'report.json'), 'utf8'))).toEqual(report);
    for (const n of names) expect(existsSync(join(report.dir, n === 'directory' ? 'directory.sqlite' : n === 'spool' ? 'spool.sqlite' : `mailboxes/${n.slice(8)}.sqlite`))).toBe(true);
    expect(databaseFiles(t.dataDir)).toEqual([]);
    expect(existsSync(join(t.dataDir, '.replication'))).toBe(false);
    // Done once: the directory is now a fresh standby's.
    expect(setAsideDiverged(t.dataDir, silentLogger)).toBeNull();
  });

  // Issue 19 gap 3: an upload the old primary began before its lease ran out may land after the new
  // primary's last pass; the takeover record says what that pass applied, and the rest is reported.
  it('names a database it shipped past what the promoted node took over (takeover/<epoch>), and only that one', async () => {
    t = makeTestStore();
    replicaDir = tempDir('rejoin-takeover');
    const { account } = await addAccount(t.store, 'carol@example.test');
    t.store.close();
    const fence = new Fence(new FileTarget(replicaDir), t.dataDir, silentLogger, { role: 'primary' });
    await fence.boot(false);
    const rep = replicate({ url: `file://${replicaDir}`, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    const store = t.reopen();
    await store.deliver(account.id, sampleMessage({ subject: 'shipped, then taken over' }));
    await rep.flush(20_000);
    store.close();
    await rep.stop();
    const stateDir = join(t.dataDir, '.replication', 'state');
    const shipped = Object.fromEntries(databaseFiles(t.dataDir).map((f) => [f.name, loadSaved(stateDir, f.name)!]));
    // The new primary applied everything but the spool's last object.
    const applied = Object.fromEntries(Object.entries(shipped).map(([db, p]) => [db, { generation: p.generation, index: db === 'spool' ? p.index - 1 : p.index }]));
    const took: TakeoverRecord = { epoch: 2, at: Date.now(), applied };
    expect(unshippedIn(t.dataDir, took).filter((d) => d.shippedPastTakeover).map((d) => d.db)).toEqual(['spool']);
    // Without a record (a promotion by a node that wrote none) there is nothing to compare with.
    expect(unshippedIn(t.dataDir, null).some((d) => d.shippedPastTakeover)).toBe(false);
    const report = setAsideDiverged(t.dataDir, silentLogger, Date.now(), took) as DivergenceReport;
    expect(report.unshipped).toEqual(['spool']);
    expect(report.databases.find((d) => d.db === 'spool')).toMatchObject({ shippedPastTakeover: true, unshippedWalBytes: 0, outboxObjects: 0 });
  });

  it('a directory that never held an epoch is not touched', async () => {
    t = makeTestStore();
    replicaDir = tempDir('rejoin-none');
    await addAccount(t.store, 'bob@example.test');
    t.store.close();
    expect(setAsideDiverged(t.dataDir, silentLogger)).toBeNull();
    expect(databaseFiles(t.dataDir).length).toBeGreaterThan(0);
  });
});
