/**
 * Cutting WAL objects (node/replication/cut) from a real encrypted SQLite
 * WAL: the frames past the head and no more, commit times as seen, each
 * object continuing the previous one's running checksum, one transaction
 * larger than the object size shipped whole, and a WAL restarted by
 * someone else reported as lost instead of cut.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appended, began, statOf, type ChainState } from '../../node/replication/chain-state.js';
import { cutWal, type Cut } from '../../node/replication/cut.js';
import { closeDb, openEncrypted, type Db } from '../../node/store/db.js';
import { tempDir } from './helpers.js';

let dir: string;
let path: string;
let db: Db;
let commits: { end: number; at: number }[];

const walSize = () => statSync(`${path}-wal`).size;
function write(bytes = 200): void {
  db.prepare('INSERT INTO t(v) VALUES (?)').run(randomBytes(bytes));
  commits.push({ end: walSize(), at: Date.now() });
}
function cut(s: ChainState, max = 1 << 20): Cut {
  if (s.kind !== 'chain') throw new Error('no chain');
  return cutWal('directory', s.head, `${path}-wal`, walSize(), commits, max);
}
function take(s: ChainState, c: Cut): ChainState {
  if (c.kind !== 'object') throw new Error(`expected an object, got ${c.kind}`);
  commits = commits.filter((x) => x.end > c.end);
  return appended(s, { generation: c.object.header.generation, index: c.object.header.index, checksum: c.object.checksum, pos: c.pos });
}

beforeEach(() => {
  dir = tempDir('cut');
  path = join(dir, 'directory.sqlite');
  db = openEncrypted(path, randomBytes(32));
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)');
  db.pragma('wal_checkpoint(TRUNCATE)');
  commits = [];
});
afterEach(() => {
  closeDb(path, db);
  rmSync(dir, { recursive: true, force: true });
});

describe('cutWal', () => {
  it('cuts the committed frames past the head, and the next object continues the running checksum', () => {
    let s = appended(began('0000000000010000000a', statOf(path)), { generation: '0000000000010000000a', index: 0, checksum: 'snap', pos: { salt: null, header: null, offset: 0, cksum: null } });
    write();
    write();
    const first = cut(s);
    expect(first.kind).toBe('object');
    if (first.kind !== 'object') return;
    expect(first.object.header).toMatchObject({ db: 'directory', index: 1, kind: 'wal', prev: 'snap', walOffset: 32 });
    expect(first.object.header.commits).toHaveLength(2);
    expect(first.object.header.commits!.map((c) => c.at)).toEqual(commits.map((c) => c.at));
    s = take(s, first);
    expect(cut(s)).toEqual({ kind: 'nothing' });
    write();
    const second = cut(s);
    if (second.kind !== 'object') throw new Error('expected a second object');
    expect(second.object.header.walOffset).toBe(first.end);
    expect(second.object.header.walSeed).toEqual(first.object.header.walEnd);
    expect(second.object.header.prev).toBe(first.object.checksum);
  });

  it('ships one transaction larger than the object size whole, as one object', () => {
    const s = appended(began('0000000000010000000b', statOf(path)), { generation: '0000000000010000000b', index: 0, checksum: 'snap', pos: { salt: null, header: null, offset: 0, cksum: null } });
    db.transaction(() => {
      for (let i = 0; i < 40; i++) db.prepare('INSERT INTO t(v) VALUES (?)').run(randomBytes(3000));
    })();
    commits.push({ end: walSize(), at: Date.now() });
    const c = cut(s, 16 * 1024);
    if (c.kind !== 'object') throw new Error('expected an object');
    expect(c.payloadBytes).toBeGreaterThan(16 * 1024);
    expect(c.object.header.commits).toHaveLength(1);
    expect(c.end).toBe(walSize());
  });

  it('says the chain is lost when someone else restarted the WAL', () => {
    let s = appended(began('0000000000010000000c', statOf(path)), { generation: '0000000000010000000c', index: 0, checksum: 'snap', pos: { salt: null, header: null, offset: 0, cksum: null } });
    write();
    s = take(s, cut(s));
    db.pragma('wal_checkpoint(TRUNCATE)');
    write();
    expect(cut(s)).toEqual({ kind: 'lost', why: 'the WAL was reset by someone else' });
  });
});
