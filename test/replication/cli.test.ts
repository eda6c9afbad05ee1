/**
 * @module test/replication/cli
 * The node's wiring and the `haven` replication commands against a real
 * S3-compatible server (s3rver on loopback): replication started from the
 * config after the store opened (its databases adopted), `haven replicate
 * status`, `haven backup` and `haven backup verify` answered by the running
 * node over its control socket, `haven restore` (refusal, one account, a
 * directory elsewhere, progress on stderr), and the first boot of a rebuilt
 * server restoring itself from the replica.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicationCommands } from '../../node/cli/commands/replication.js';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { testConfig } from '../../node/config/index.js';
import { askNode, serveControl } from '../../node/admin/control.js';
import { ReplicaConfigError, openTarget, replicaSummary, replicationControl, restoreOnEmptyDataDir, startReplication } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, indexSettled, makeTestStore, sampleMessage } from '../helpers/store.js';
import { dumpMailbox, startS3, tempDir, type TestS3 } from './helpers.js';

describe('replication in the node and on the command line', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3('cli');
  });
  afterAll(async () => {
    await s3.cleanup();
  });

  it('status, backup, verify and restore through the CLI; a rebuilt node restores itself on first boot', async () => {
    const t = makeTestStore();
    // Ports 0: the "is a node listening?" probe is left to the control socket here.
    const env = { HAVEN_DATA_DIR: t.dataDir, HAVEN_REPLICA_URL: s3.url, HAVEN_MASTER_KEY: t.masterKey.toString('hex'), HAVEN_PORTS_SMTP: '0', HAVEN_PORTS_HTTPS: '0' };
    const cli = async (...argv: string[]) => {
      const io = memoryIo({ env });
      const code = await runCli(argv, io, replicationCommands);
      return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
    };
    const config = testConfig(t.dataDir, { replicaUrl: s3.url, masterKey: t.masterKey.toString('hex') });

    // The store is already open when the node starts replication: its directory and spool are adopted.
    const store = t.store;
    const rep = startReplication(config, store, silentLogger, { retentionCheckMs: 0 })!;
    expect(rep).not.toBeNull();
    expect(startReplication(testConfig(t.dataDir), store, silentLogger)).toBeNull();
    // The node's control socket, as node/main.ts serves it.
    const control = await serveControl({ dataDir: t.dataDir, ops: { store, log: silentLogger }, replication: replicationControl(rep, silentLogger), log: silentLogger });
    const alice = await addAccount(store, 'alice@example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    for (let i = 0; i < 3; i++) await store.deliver(bob.account.id, sampleMessage({ to: 'bob@example.test', subject: `cli ${i}` }));
    await store.deliver(alice.account.id, sampleMessage({ subject: 'sealed for alice' }));
    // `backup verify` below compares the live files with the replica: no index write may follow.
    await indexSettled(store, [bob.account.id]);
    await rep.flush();

    const status = await cli('replicate', 'status', '--json');
    expect(status.code).toBe(0);
    const st = JSON.parse(status.out);
    expect(st.running).toBe(true);
    expect(st.node.status.lagMs).toBe(0);
    expect(st.replica.map((r: { db: string }) => r.db)).toEqual(expect.arrayContaining(['directory', 'spool', `mailbox-${bob.account.id}`]));
    const liveDir = st.node.databases.find((d: { db: string }) => d.db === 'directory');
    expect(liveDir.generation).toBe(st.replica.find((r: { db: string }) => r.db === 'directory').generation);

    // `haven backup`: the running node snapshots its open databases and ships them.
    const snapsBefore = replicaSummary(await listing(s3.url)).find((r) => r.db === 'directory')!.snapshots;
    const backup = await cli('backup', '--json');
    expect(backup.code).toBe(0);
    expect(JSON.parse(backup.out)).toMatchObject({ ok: true, via: 'node' });
    expect(JSON.parse(backup.out).snapshots).toBeGreaterThanOrEqual(2);
    expect(replicaSummary(await listing(s3.url)).find((r) => r.db === 'directory')!.snapshots).toBe(snapsBefore + 1);

    const verify = await cli('backup', 'verify');
    expect(verify.code, verify.err).toBe(0);
    expect(verify.out).toMatch(/backup verified: 4 database\(s\)/);
    expect(verify.out).toMatch(new RegExp(`mailbox-${alice.account.id}\\tpages-match`));
    expect(verify.out).toMatch(new RegExp(`mailbox-${bob.account.id}\\tsame`));

    // A restore over the running node's data is refused before anything is fetched.
    const running = await cli('restore', '--force');
    expect(running.code).toBe(1);
    expect(running.err).toMatch(/the node is running/);

    const before = await dumpMailbox(store, 'bob@example.test', 'bob password long');
    await control.close();
    store.close();
    await rep.stop();
    expect(await askNode(t.dataDir, { cmd: 'status' })).toBeNull();

    const offline = await cli('replicate', 'status');
    expect(offline.code).toBe(0);
    expect(offline.out).toMatch(/node: not running/);
    expect(offline.out).toMatch(new RegExp(`mailbox-${bob.account.id}\\tgeneration [0-9a-f]{20}\\tobject \\d+`));
    const offlineBackup = await cli('backup', '--json');
    expect(offlineBackup.code, offlineBackup.err).toBe(0);
    expect(JSON.parse(offlineBackup.out)).toMatchObject({ via: 'offline' });

    // Into the live directory without --force: refused, naming what is there.
    const refused = await cli('restore');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/already exist in .*--force/);

    // One account, by address, somewhere else, with progress on stderr.
    const elsewhere = tempDir('cli-one');
    try {
      const one = await cli('restore', '--account', 'bob@example.test', '--to', elsewhere, '--json');
      expect(one.code, one.err).toBe(0);
      expect(JSON.parse(one.out).databases.map((d: { db: string; verified: string }) => [d.db, d.verified])).toEqual([[`mailbox-${bob.account.id}`, 'integrity_check']]);
      expect(one.err).toMatch(/restore: plan: 0\/\d+ objects/);
      expect(one.err).toMatch(/restore: done: (\d+)\/\1 objects/);
      const nobody = await cli('restore', '--account', 'nobody@example.test', '--to', elsewhere);
      expect(nobody.code).toBe(1);
      expect(nobody.err).toMatch(/no account nobody@example.test/);
      const badAt = await cli('restore', '--at', 'yesterday-ish', '--to', elsewhere);
      expect(badAt.code).toBe(2);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }

    // An unreachable replica is something to check, not a bug: exit 1 with advice.
    const gone = memoryIo({ env: { ...env, HAVEN_REPLICA_URL: 's3://haven-replica/cli?endpoint=http://127.0.0.1:1&region=us-east-1' } });
    expect(await runCli(['replicate', 'status'], gone, replicationCommands)).toBe(1);
    expect(gone.stderr.join('\n')).toMatch(/the replica could not be read .*check replicaUrl/);
    const goneBackup = memoryIo({ env: { ...env, HAVEN_REPLICA_URL: 's3://haven-replica/cli?endpoint=http://127.0.0.1:1&region=us-east-1' } });
    expect(await runCli(['backup', '--timeout', '2'], goneBackup, replicationCommands)).toBe(1);
    expect(goneBackup.stderr.join('\n')).toMatch(/backup incomplete: replication did not catch up/);

    // A rebuilt server: empty data directory, same config. It restores before anything opens.
    rmSync(t.dataDir, { recursive: true, force: true });
    const boot = await restoreOnEmptyDataDir(config, silentLogger);
    expect(boot.restored).toBe(true);
    expect(await restoreOnEmptyDataDir(config, silentLogger)).toEqual({ restored: false, reason: 'not-empty' });
    const again = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey });
    try {
      expect(await dumpMailbox(again, 'bob@example.test', 'bob password long')).toEqual(before);
    } finally {
      again.close();
    }
    // Without the master key it stops with advice rather than starting an empty node over a full replica.
    const keyless = tempDir('cli-keyless');
    await expect(restoreOnEmptyDataDir(testConfig(keyless, { replicaUrl: s3.url }), silentLogger)).rejects.toBeInstanceOf(ReplicaConfigError);
    expect(await restoreOnEmptyDataDir(testConfig(keyless), silentLogger)).toEqual({ restored: false, reason: 'no-replica' });
    rmSync(keyless, { recursive: true, force: true });
    t.cleanup();
  });
});

async function listing(url: string) {
  const target = openTarget(url);
  try {
    return await target.list();
  } finally {
    target.close();
  }
}
