/**
 * Where a WAL's committed frames end, read from SQLite's wal-index
 * (https://www.sqlite.org/walformat.html §2.1: mxFrame in the header of the
 * -shm file), against the WAL file's size. After a crash in the middle of a
 * transaction the WAL holds frames past the last commit; SQLite's recovery
 * ignores them (§1.2: only frames up to a commit frame with valid checksums
 * count) and the next transaction writes over them from the last commit on,
 * so the file stays longer than what is committed. The replicator took the
 * size for a commit's end, shipped up to the real end, then met the stale
 * frames after it and gave the chain up as lost (a new generation, a full
 * snapshot) after every such crash.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { committedWalEnd, parseWalHeader, scanFrames, FRAME_HEADER_SIZE, WAL_HEADER_SIZE } from '../../node/replication/wal.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'haven-walend-'));
  dirs.push(d);
  return d;
}

function open(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  return db;
}

const shmEnd = (path: string) => committedWalEnd(readFileSync(`${path}-shm`).subarray(0, 48), 4096);

/** The end of the last commit frame that chains from the header, as recovery finds it. */
function scannedEnd(path: string): number {
  const wal = readFileSync(`${path}-wal`);
  const hdr = parseWalHeader(wal.subarray(0, WAL_HEADER_SIZE))!;
  return WAL_HEADER_SIZE + scanFrames(hdr, wal.subarray(WAL_HEADER_SIZE), hdr.cksum).end;
}

describe('committedWalEnd', () => {
  it('is the WAL size while every frame is committed', () => {
    const path = join(dir(), 'a.db');
    const db = open(path);
    db.exec('CREATE TABLE t(x BLOB)');
    db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(20_000));
    expect(shmEnd(path)).toBe(statSync(`${path}-wal`).size);
    expect(shmEnd(path)).toBe(scannedEnd(path));
    db.close();
  });

  it('stops at the last commit when a crash left an uncommitted tail that a later transaction wrote over', () => {
    const d = dir();
    const path = join(d, 'a.db');
    const db = open(path);
    db.exec('CREATE TABLE t(x BLOB)');
    db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(8_000)); // A
    const endA = statSync(`${path}-wal`).size;
    db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(200_000)); // B, many frames
    // The crash: the files as they were, B's commit frame never written (its commit field cleared,
    // which also breaks its checksum, as a torn write would). A copy, because the open connection
    // would otherwise checkpoint the WAL away when it closes.
    const crashed = join(d, 'b.db');
    copyFileSync(path, crashed);
    const wal = readFileSync(`${path}-wal`);
    db.close();
    const frame = FRAME_HEADER_SIZE + 4096;
    const lastFrame = wal.length - frame;
    wal.writeUInt32BE(0, lastFrame + 4);
    writeFileSync(`${crashed}-wal`, wal);

    const again = open(crashed); // recovery: B is not there
    expect(again.prepare('SELECT count(*) FROM t').pluck().get()).toBe(1);
    again.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(8_000)); // C, written from A's end on
    const size = statSync(`${crashed}-wal`).size;
    const end = shmEnd(crashed)!;
    expect(size).toBe(wal.length); // the stale part of B is still in the file
    expect(end).toBeGreaterThan(endA);
    expect(end).toBeLessThan(size);
    expect(end).toBe(scannedEnd(crashed));
    again.close();
  });

  it('says null for bytes that are not a wal-index header', () => {
    expect(committedWalEnd(Buffer.alloc(48), 4096)).toBeNull();
    expect(committedWalEnd(Buffer.alloc(10), 4096)).toBeNull();
  });
});
