/**
 * Migrations: every schema (directory, mailbox, spool) reaches the current
 * version from an empty file and from each earlier version with the same
 * tables, indexes and triggers as a fresh file; a failing migration leaves
 * the file at its previous version with its data.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { directoryMigrations } from '../../node/store/directory/schema.js';
import { mailboxMigrations } from '../../node/store/mailbox/schema.js';
import { spoolMigrations } from '../../node/store/spool.js';
import { migrate, SchemaTooNewError, type Migration } from '../../node/store/migrate.js';
import { openEncrypted, type Db } from '../../node/store/db.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'haven-migrate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const key = randomBytes(32);

/** The schema as SQLite stores it, FTS shadow tables included, in a stable order. */
function schemaOf(db: Db): string[] {
  return (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string; sql: string | null }[]).map(
    (r) => `${r.type} ${r.name}: ${(r.sql ?? '').replace(/\s+/g, ' ')}`,
  );
}

function version(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

const schemas: [string, readonly Migration[]][] = [
  ['directory', directoryMigrations],
  ['mailbox', mailboxMigrations],
  ['spool', spoolMigrations],
];

describe.each(schemas)('%s schema', (name, migrations) => {
  it('migrates an empty file to the current version', () => {
    const db = openEncrypted(join(dir, `${name}.sqlite`), key);
    expect(version(db)).toBe(0);
    expect(migrate('x', db, migrations)).toEqual({ from: 0, to: migrations.length });
    expect(version(db)).toBe(migrations.length);
    expect(schemaOf(db).length).toBeGreaterThan(0);
    db.close();
  });

  it('reaches the same schema from every earlier version', () => {
    const fresh = openEncrypted(join(dir, 'fresh.sqlite'), key);
    migrate('fresh', fresh, migrations);
    const want = schemaOf(fresh);
    fresh.close();
    for (let from = 0; from < migrations.length; from++) {
      const path = join(dir, `from-${from}.sqlite`);
      const old = openEncrypted(path, key);
      migrate(path, old, migrations.slice(0, from));
      expect(version(old)).toBe(from);
      old.close();
      // Reopen as a newer Haven would: the file carries only its own version.
      const db = openEncrypted(path, key);
      expect(migrate(path, db, migrations)).toEqual({ from, to: migrations.length });
      expect(schemaOf(db)).toEqual(want);
      db.close();
    }
  });

  it('is a no-op on a current file', () => {
    const path = join(dir, 'cur.sqlite');
    const db = openEncrypted(path, key);
    migrate(path, db, migrations);
    const before = schemaOf(db);
    expect(migrate(path, db, migrations)).toEqual({ from: migrations.length, to: migrations.length });
    expect(schemaOf(db)).toEqual(before);
    db.close();
  });
});

describe('a migration that fails', () => {
  it('leaves the file at the previous version with its data and names the file when too new', () => {
    const path = join(dir, 'x.sqlite');
    const db = openEncrypted(path, key);
    const v1: Migration = (d) => d.exec('CREATE TABLE t(v TEXT); INSERT INTO t VALUES (\'kept\')');
    migrate(path, db, [v1]);
    const broken: Migration = (d) => {
      d.exec('ALTER TABLE t ADD COLUMN w TEXT; UPDATE t SET v = \'changed\'');
      throw new Error('migration 2 failed halfway');
    };
    expect(() => migrate(path, db, [v1, broken])).toThrow(/failed halfway/);
    expect(version(db)).toBe(1);
    expect(db.prepare('SELECT * FROM t').all()).toEqual([{ v: 'kept' }]);
    db.close();

    // An older Haven opening a newer file refuses instead of guessing.
    const again = openEncrypted(path, key);
    expect(() => migrate(path, again, [])).toThrow(SchemaTooNewError);
    expect(() => migrate(path, again, [])).toThrow(/x\.sqlite has schema version 1 but this Haven knows only up to 0/);
    again.close();
  });
});
