/**
 * Deferred commits (db.writeDeferred, the MX's group commit) fsync the WAL
 * file through one descriptor held for the connection's life. Facts this
 * rests on: SQLite removes a WAL file only when the last connection to the
 * database closes (sqlite.org/wal.html, "the WAL file ... is deleted when
 * the last connection closes"), so the descriptor stays on the right file;
 * and Linux reports a writeback error to the descriptors that were open when
 * it happened (fsync(2), since 4.13), so one opened later could not see it.
 * Checked here through /proc/self/fd: the number of descriptors on the WAL
 * does not grow with commits, none is left after close, and commits whose
 * fsync was still to run when the database closed are durable all the same.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeDb, openEncrypted, writeDeferred, type Db } from '../../node/store/db.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'haven-wal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const key = randomBytes(32);

/** Descriptors of this process open on `file` (a deleted file reads as "<path> (deleted)"). */
function descriptorsOn(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(file)) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

function open(path: string): Db {
  const db = openEncrypted(path, key);
  db.exec('CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  return db;
}

const insert = (path: string, db: Db, v: string) => writeDeferred(path, db, () => db.prepare('INSERT INTO t(v) VALUES (?)').run(v)).durable;

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('deferred commits and the WAL descriptor', () => {
  it('one descriptor serves every fsync of a connection and is let go at close', async () => {
    const path = join(dir, 'a.sqlite');
    const db = open(path);
    const sqliteOwn = descriptorsOn(`${path}-wal`);
    await insert(path, db, 'first');
    const afterFirst = descriptorsOn(`${path}-wal`);
    expect(afterFirst).toBe(sqliteOwn + 1);
    // Concurrent commits share fsyncs; sequential ones reuse the descriptor.
    await Promise.all(Array.from({ length: 50 }, (_, i) => insert(path, db, `c${i}`)));
    for (let i = 0; i < 20; i++) await insert(path, db, `s${i}`);
    expect(descriptorsOn(`${path}-wal`)).toBe(afterFirst);
    closeDb(path, db);
    await until(() => descriptorsOn(`${path}-wal`) === 0);
    const again = open(path);
    expect(again.prepare('SELECT count(*) FROM t').pluck().get()).toBe(71);
    closeDb(path, again);
  });

  it('commits whose fsync had not run when the database closed still resolve, and are there after reopening', async () => {
    const path = join(dir, 'b.sqlite');
    const db = open(path);
    await insert(path, db, 'warm');
    // One fsync running, the rest queued behind it, then the close.
    const pending = Array.from({ length: 30 }, (_, i) => insert(path, db, `p${i}`));
    closeDb(path, db);
    await expect(Promise.all(pending)).resolves.toHaveLength(30);
    await until(() => descriptorsOn(`${path}-wal`) === 0);
    const again = open(path);
    expect(again.prepare('SELECT count(*) FROM t').pluck().get()).toBe(31);
    closeDb(path, again);
  });

  it('each connection has its own descriptor: closing one leaves the other committing durably', async () => {
    const a = join(dir, 'c.sqlite');
    const b = join(dir, 'd.sqlite');
    const da = open(a);
    const dbb = open(b);
    await Promise.all([insert(a, da, 'a'), insert(b, dbb, 'b')]);
    closeDb(a, da);
    await until(() => descriptorsOn(`${a}-wal`) === 0);
    await insert(b, dbb, 'b2');
    expect(descriptorsOn(`${b}-wal`)).toBeGreaterThan(0);
    closeDb(b, dbb);
    const again = open(b);
    expect(again.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['b', 'b2']);
    closeDb(b, again);
  });
});
