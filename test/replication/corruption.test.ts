/**
 * @module test/replication/corruption
 * A damaged replica is detected and the broken object named: a flipped byte
 * (in a WAL object, a snapshot, the last object), a missing object, two
 * objects swapped, an object from another chain put in place of one.
 */
import { cpSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaCorruptError, restore, replicate } from '../../node/replication/index.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, sampleMessage } from '../helpers/store.js';
import { tempDir } from './helpers.js';

let replica = '';
let masterKey: Buffer;
let mailboxDir = '';
let objects: string[] = [];

beforeAll(async () => {
  replica = tempDir('corrupt-replica');
  const t = makeTestStore();
  masterKey = t.masterKey;
  const rep = replicate({ url: `file://${replica}`, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
  const store = t.reopen();
  store.directory.addDomain('example.test');
  const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
  for (let i = 0; i < 6; i++) {
    await store.deliver(bob.account.id, sampleMessage({ subject: `m${i}` }));
    await rep.flush();
  }
  store.close();
  await rep.stop();
  t.cleanup();
  const db = `mailbox-${bob.account.id}`;
  const gen = readdirSync(join(replica, db))[0];
  mailboxDir = join(replica, db, gen);
  objects = readdirSync(mailboxDir).sort();
});

afterAll(() => {
  rmSync(replica, { recursive: true, force: true });
});

/** Restores from a damaged copy of the replica and returns the error. */
async function damaged(damage: (dir: string) => void): Promise<ReplicaCorruptError> {
  const copy = tempDir('corrupt-copy');
  const into = tempDir('corrupt-into');
  try {
    cpSync(replica, copy, { recursive: true });
    damage(join(copy, mailboxDir.slice(replica.length)));
    const err = await restore({ target: `file://${copy}`, into, masterKey }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplicaCorruptError);
    return err as ReplicaCorruptError;
  } finally {
    rmSync(copy, { recursive: true, force: true });
    rmSync(into, { recursive: true, force: true });
  }
}

function flip(file: string, at: (len: number) => number): void {
  const b = readFileSync(file);
  const i = at(b.length);
  b[i] ^= 0x01;
  writeFileSync(file, b);
}

describe('a damaged replica', () => {
  it('has the chain this suite damages', () => {
    expect(objects[0]).toMatch(/^0{16}\.snapshot$/);
    expect(objects.length).toBeGreaterThanOrEqual(7);
  });

  it('names a WAL object with a flipped byte in its frames', async () => {
    const err = await damaged((dir) => flip(join(dir, objects[3]), (n) => n - 500));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0].key.endsWith(objects[3])).toBe(true);
    expect(err.problems[0].problem).toMatch(/checksum mismatch/);
    expect(err.message).toContain(objects[3]);
  });

  it('names a snapshot with a flipped byte', async () => {
    const err = await damaged((dir) => flip(join(dir, objects[0]), (n) => Math.floor(n / 2)));
    expect(err.problems[0].key.endsWith(objects[0])).toBe(true);
    expect(err.problems[0].problem).toMatch(/damaged/);
  });

  it('names the last object when its checksum trailer is damaged', async () => {
    const last = objects.at(-1)!;
    const err = await damaged((dir) => flip(join(dir, last), (n) => n - 1));
    expect(err.problems[0].key.endsWith(last)).toBe(true);
  });

  it('names a missing object', async () => {
    const err = await damaged((dir) => rmSync(join(dir, objects[4])));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0].key.endsWith(objects[4])).toBe(true);
    expect(err.problems[0].problem).toMatch(/missing/);
  });

  it('names two objects swapped', async () => {
    const err = await damaged((dir) => {
      renameSync(join(dir, objects[2]), join(dir, 'tmp'));
      renameSync(join(dir, objects[3]), join(dir, objects[2]));
      renameSync(join(dir, 'tmp'), join(dir, objects[3]));
    });
    expect(err.problems[0].key.endsWith(objects[2])).toBe(true);
    expect(err.problems[0].problem).toMatch(/reordered/);
  });

  it('names an object that does not follow its predecessor', async () => {
    // A well-formed object from further down the chain, renamed into place and patched to claim that place.
    const err = await damaged((dir) => {
      rmSync(join(dir, objects[2]));
      renameSync(join(dir, objects[3]), join(dir, objects[2]));
      for (let i = 4; i < objects.length; i++) renameSync(join(dir, objects[i]), join(dir, objects[i - 1]));
    });
    expect(err.problems[0].key.endsWith(objects[2])).toBe(true);
    expect(err.problems[0].problem).toMatch(/reordered|does not follow/);
  });
});
