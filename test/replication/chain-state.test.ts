/**
 * The per-database chain state (node/replication/chain-state): a union of
 * none | broken | chain with synchronous transitions, judged against real
 * SQLite files in WAL mode (the node's own encrypted open, autocheckpoint
 * off as the replicator sets it). Each case is one way the files on disk
 * can continue, or fail to continue, what was shipped.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync, renameSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appended, began, checkpointed, continues, fromSaved, headOf, lost, NONE, readDiskFacts, RESET_POS, statOf, verified, type ChainState } from '../../node/replication/chain-state.js';
import { WAL_HEADER_SIZE } from '../../node/replication/wal.js';
import { closeDb, openEncrypted, type Db } from '../../node/store/db.js';
import { tempDir } from './helpers.js';

let dir: string;
let path: string;
let db: Db;
const key = randomBytes(32);

function open(): Db {
  const d = openEncrypted(path, key);
  d.pragma('wal_autocheckpoint = 0');
  return d;
}

function write(n = 1): void {
  for (let i = 0; i < n; i++) db.prepare('INSERT INTO t(v) VALUES (?)').run(randomBytes(200));
}

/** What the replicator does after cutting every committed frame: the head points at the WAL's end. */
function cutAll(s: ChainState): ChainState {
  const facts = readDiskFacts(path);
  const w = facts.wal!;
  const end = w.size;
  const cksum = end === WAL_HEADER_SIZE ? w.headerCksum : w.cksumEndingAt(end)!;
  const h = headOf(s)!;
  return appended(s, { generation: h.generation, index: h.index + 1, checksum: randomBytes(32).toString('hex'), pos: { salt: w.salt, header: null, offset: end, cksum } });
}

beforeEach(() => {
  dir = tempDir('chain-state');
  path = join(dir, 'db.sqlite');
  db = open();
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)');
  db.pragma('wal_checkpoint(TRUNCATE)');
});
afterEach(() => {
  if (db.open) closeDb(path, db);
  rmSync(dir, { recursive: true, force: true });
});

describe('chain state', () => {
  it('none until a generation begins; a saved head with no object is none too', () => {
    expect(fromSaved(null)).toEqual(NONE);
    expect(fromSaved({ generation: 'g', index: -1, checksum: null, pos: RESET_POS, dbStat: null })).toEqual(NONE);
    expect(verified(NONE, readDiskFacts(path))).toMatchObject({ kind: 'broken', why: 'no continuous history for this file', last: null });
    expect(() => appended(NONE, { generation: 'g', index: 0, checksum: 'x', pos: RESET_POS })).toThrow(/cannot append/);
  });

  it('appends objects in order only, and continues while the WAL holds the shipped frames', () => {
    let s = began('gen-a', statOf(path));
    s = appended(s, { generation: 'gen-a', index: 0, checksum: 'snap', pos: RESET_POS });
    expect(() => appended(s, { generation: 'gen-a', index: 2, checksum: 'x', pos: RESET_POS })).toThrow(/does not follow gen-a\/0/);
    write(3);
    s = cutAll(s);
    expect(s.kind === 'chain' && s.head.index).toBe(1);
    // More commits after the shipped frame: still the same chain (they are cut next).
    write(2);
    expect(continues(headOf(s)!, readDiskFacts(path))).toBe(true);
    expect(verified(s, readDiskFacts(path))).toBe(s);
  });

  it('breaks when someone else checkpoints and restarts the WAL (new salts)', () => {
    let s = appended(began('gen-b', statOf(path)), { generation: 'gen-b', index: 0, checksum: 'snap', pos: RESET_POS });
    write(2);
    s = cutAll(s);
    db.pragma('wal_checkpoint(TRUNCATE)');
    write(1);
    expect(continues(headOf(s)!, readDiskFacts(path))).toBe(false);
    expect(verified(s, readDiskFacts(path))).toMatchObject({ kind: 'broken', last: headOf(s) });
  });

  it('after our own checkpoint, continues while the database file is exactly as left, and breaks when it is replaced', () => {
    let s = appended(began('gen-c', statOf(path)), { generation: 'gen-c', index: 0, checksum: 'snap', pos: RESET_POS });
    write(2);
    s = cutAll(s);
    db.pragma('wal_checkpoint(TRUNCATE)');
    s = checkpointed(s, statOf(path));
    expect(headOf(s)!.pos).toEqual(RESET_POS);
    closeDb(path, db);
    expect(continues(headOf(s)!, readDiskFacts(path))).toBe(true);
    // A restore (or anything) puts another file in its place: same name, not the same file.
    copyFileSync(path, `${path}.copy`);
    renameSync(`${path}.copy`, path);
    expect(verified(s, readDiskFacts(path)).kind).toBe('broken');
    db = open();
  });

  it('breaks when the WAL was cut short below the shipped position, or its last shipped frame changed', () => {
    let s = appended(began('gen-d', statOf(path)), { generation: 'gen-d', index: 0, checksum: 'snap', pos: RESET_POS });
    write(3);
    s = cutAll(s);
    const h = headOf(s)!;
    const facts = readDiskFacts(path);
    expect(continues({ ...h, pos: { ...h.pos, offset: facts.wal!.size + 4096 } }, facts)).toBe(false);
    expect(continues({ ...h, pos: { ...h.pos, cksum: [1, 2] } }, facts)).toBe(false);
    // A WAL file that is not a WAL at all.
    closeDb(path, db);
    writeFileSync(`${path}-wal`, randomBytes(64));
    expect(readDiskFacts(path).wal).toBeNull();
    expect(continues(h, readDiskFacts(path))).toBe(false);
    rmSync(`${path}-wal`);
    db = open();
  });

  it('keeps the first reason it broke for, and a new generation starts over from there', () => {
    let s: ChainState = appended(began('gen-e', statOf(path)), { generation: 'gen-e', index: 0, checksum: 'snap', pos: RESET_POS });
    s = lost(s, 'the WAL was reset by someone else');
    s = lost(s, 'a later reason');
    expect(s).toMatchObject({ kind: 'broken', why: 'the WAL was reset by someone else' });
    expect(checkpointed(s, statOf(path))).toBe(s);
    const next = began('gen-f', statOf(path));
    expect(next).toMatchObject({ kind: 'chain', head: { generation: 'gen-f', index: -1, checksum: null } });
  });
});
