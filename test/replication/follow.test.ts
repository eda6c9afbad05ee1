/**
 * Incremental following (issue 19, gap 5): after a database's first
 * rebuild, a standby applies only the objects new since its last pass onto
 * the file it has, checked link by link as a restore checks them. The file
 * it ends with must be byte for byte the one a fresh restore of the same
 * replica builds, and a link that does not check out must not be built on.
 * A real primary (startNode) ships to a file replica; the standby is driven
 * pass by pass.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { batches, Follower } from '../../node/replication/follow.js';
import { parseKey } from '../../node/replication/object.js';
import { restore } from '../../node/replication/restore.js';
import { FileTarget } from '../../node/replication/target.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';
import { databaseFiles } from '../../node/store/layout.js';
import { silentLogger } from '../../node/util/log.js';

const root = mkdtempSync(join(tmpdir(), 'haven-follow-'));
const running: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const n of running.reverse()) await n.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const masterKey = randomBytes(32).toString('hex');
const replica = join(root, 'replica');

function config(name: string, role: 'primary' | 'standby') {
  // followMs long: the test drives each pass with catchUp().
  return testConfig(join(root, name), { dnsbl: [], masterKey, replicaUrl: pathToFileURL(replica).href, role, failover: { fenceCheckMs: 100, followMs: 600_000 } });
}

async function send(port: number, n: number): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  await t.sendMail({ from: 'bob@example.net', to: 'alice@example.org', subject: `message ${n}`, text: `body ${n} `.repeat(200) }).finally(() => t.close());
}

/** Every database file of a data directory, by name. */
function files(dataDir: string): Record<string, Buffer> {
  return Object.fromEntries(databaseFiles(dataDir).map((f) => [f.name, readFileSync(f.path)]));
}

describe('increments in batches', () => {
  it('cuts the new objects into consecutive groups of at most the limit, a larger object alone', () => {
    const l = (size: number, i: number) => ({ size, i });
    expect(batches([10, 10, 10, 25, 5, 5].map(l), 20).map((b) => b.map((x) => x.i))).toEqual([[0, 1], [2], [3], [4, 5]]);
    expect(batches([], 20)).toEqual([]);
  });
});

describe('a standby applies only what is new', () => {
  it('rebuilds once, then applies new objects onto its files, ending byte for byte where a fresh restore ends; a broken link is not built on', async () => {
    const a: NodeHandle = await startNode(config('a', 'primary'), { adminUi: false });
    running.push(a);
    await a.operations.call('domain.add', { name: 'example.org' });
    await a.operations.call('account.add', { address: 'alice@example.org', password: 'alice has a long password' });
    for (let i = 0; i < 3; i++) await send(a.ports.smtp!, i);
    await a.replication!.flush(20_000);

    const b: StandbyHandle = await startStandby(config('b', 'standby'));
    running.push(b);
    const first = (await b.status()).follow;
    expect(first.lastError).toBeNull();
    expect(first.applies.incremental).toBe(0);
    const rebuiltAtStart = first.applies.rebuilt;
    expect(rebuiltAtStart).toBe(first.databases);

    // Three rounds of new mail, a pass after each: only increments.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) await send(a.ports.smtp!, 10 * (round + 1) + i);
      await a.replication!.flush(20_000);
      await b.catchUp();
      const st = (await b.status()).follow;
      expect(st.lastError).toBeNull();
      expect(st.behindObjects).toBe(0);
      expect(st.applies.rebuilt).toBe(rebuiltAtStart);
    }
    expect((await b.status()).follow.applies.incremental).toBeGreaterThanOrEqual(3);

    // The files the increments built are the ones a fresh restore of the same replica builds.
    const fresh = join(root, 'fresh');
    await restore({ target: pathToFileURL(replica).href, into: fresh, masterKey: Buffer.from(masterKey, 'hex') });
    const built = files(join(root, 'b'));
    const restored = files(fresh);
    expect(Object.keys(built).sort()).toEqual(Object.keys(restored).sort());
    for (const db of Object.keys(restored)) expect({ db, same: built[db].equals(restored[db]) }).toEqual({ db, same: true });

    // Object by object (batches of one): each batch ends at a state of the chain, and the end is the same.
    const one = new Follower({ target: new FileTarget(replica), dataDir: join(root, 'one'), masterKey: Buffer.from(masterKey, 'hex'), log: silentLogger, incrementBytes: 1 });
    await one.catchUp();
    for (let i = 0; i < 3; i++) await send(a.ports.smtp!, 50 + i);
    await a.replication!.flush(20_000);
    await one.catchUp();
    expect(one.status()).toMatchObject({ lastError: null, behindObjects: 0 });
    expect(one.status().applies.incremental).toBeGreaterThan(0);
    await b.catchUp();
    const fresh2 = join(root, 'fresh2');
    await restore({ target: pathToFileURL(replica).href, into: fresh2, masterKey: Buffer.from(masterKey, 'hex') });
    for (const [db, bytes] of Object.entries(files(fresh2))) {
      expect({ db, one: files(join(root, 'one'))[db]?.equals(bytes), b: files(join(root, 'b'))[db]?.equals(bytes) }).toEqual({ db, one: true, b: true });
    }

    // A replaced object (its bytes no longer the ones the chain links): the standby does not build on it.
    await send(a.ports.smtp!, 99);
    await a.replication!.flush(20_000);
    const newest = (await new FileTarget(replica).list())
      .map((o) => ({ o, k: parseKey(o.key) }))
      .filter((x) => x.k?.kind === 'wal' && x.k.db === 'spool')
      .sort((x, y) => x.k!.index - y.k!.index)
      .at(-1)!;
    const path = join(replica, newest.o.key);
    const good = readFileSync(path);
    const bad = Buffer.from(good);
    bad[bad.length - 1] ^= 0xff;
    writeFileSync(path, bad);
    const before = files(join(root, 'b')).spool;
    await b.catchUp();
    const st = (await b.status()).follow;
    expect(st.lastError).toMatch(/spool/);
    // Neither the increment nor the rebuild it fell back to touched the file.
    expect(files(join(root, 'b')).spool.equals(before)).toBe(true);
    // Put right, the next pass catches up.
    writeFileSync(path, good);
    await b.catchUp();
    expect((await b.status()).follow.lastError).toBeNull();
    expect(readdirSync(join(root, 'b')).some((n) => n.startsWith('.restore-staging'))).toBe(false);
  }, 120_000);
});
