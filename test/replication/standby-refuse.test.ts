/**
 * A promoted node restarted with its old setting `role: standby` (issue 19,
 * gap 2). It holds the newest epoch, so it is the primary and its data the
 * only copy of what it has not shipped: standing by would set that data
 * aside and leave no primary. It refuses, with a message naming the two
 * ways out (start it as the primary, or promote the other node first), and
 * touches nothing: started as the primary it serves every message.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { StandbyHoldsEpochError } from '../../node/replication/fence.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';
import { aliceInboxCount, seedAlice, sendToAlice } from './alice.js';

const root = mkdtempSync(join(tmpdir(), 'haven-standby-refuse-'));
const running: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const n of running.reverse()) await n.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const masterKey = randomBytes(32).toString('hex');
const replicaUrl = pathToFileURL(join(root, 'replica')).href;

function config(name: string, role: 'primary' | 'standby') {
  return testConfig(join(root, name), { dnsbl: [], masterKey, replicaUrl, role, failover: { fenceCheckMs: 100, followMs: 100 } });
}


describe('a node holding the newest epoch started as a standby', () => {
  it('refuses, says what to do, sets nothing aside, and serves everything when started as the primary', async () => {
    const a: NodeHandle = await startNode(config('a', 'primary'), { adminUi: false });
    running.push(a);
    await seedAlice(a, 3);
    const b: StandbyHandle = await startStandby(config('b', 'standby'));
    running.push(b);
    expect(await b.promote()).toMatchObject({ promoted: true });
    // The promoted node takes mail of its own (epoch 2), then stops; so does the old primary.
    for (let i = 3; i < 5; i++) await sendToAlice(b.node()!.ports.smtp!, i);
    await b.close();
    await a.close();

    const before = readdirSync(join(root, 'b')).sort();
    const err = await startStandby(config('b', 'standby')).then(
      (s) => {
        running.push(s);
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StandbyHoldsEpochError);
    expect(err).toMatchObject({ held: 2, latest: 2 });
    expect((err as Error).message).toMatch(/holds epoch 2, the newest in the replica.*role: primary.*`haven promote` there/);
    // Nothing set aside, the lock released: the same data directory is ready for either way out.
    expect(readdirSync(join(root, 'b')).sort()).toEqual(before);
    expect(readdirSync(join(root, 'b')).some((n) => n.startsWith('diverged-'))).toBe(false);

    // `haven start` says the same on one line (not "unexpected error … bug") and exits non-zero.
    const io = memoryIo({ env: { HAVEN_DATA_DIR: join(root, 'b'), HAVEN_ROLE: 'standby', HAVEN_REPLICA_URL: replicaUrl, HAVEN_MASTER_KEY: masterKey } });
    expect(await runCli(['start'], io)).not.toBe(0);
    expect(io.stderr.join('\n')).toMatch(/^haven: this node holds epoch 2/m);
    expect(io.stderr.join('\n')).not.toMatch(/unexpected error/);

    // Started as the primary, it resumes epoch 2 with all five messages.
    const again: NodeHandle = await startNode(config('b', 'primary'), { adminUi: false });
    running.push(again);
    expect(await aliceInboxCount(again.ports.imaps!)).toBe(5);
  }, 120_000);
});
