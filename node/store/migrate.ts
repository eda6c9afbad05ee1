/**
 * @module node/store/migrate
 * Schema migrations keyed on PRAGMA user_version. Each migration runs in its
 * own transaction with the version bump, so a crash leaves the file at one
 * version or the next, never between.
 */
import type { Db } from './db.js';

export type Migration = (db: Db) => void;

export class SchemaTooNewError extends Error {
  constructor(path: string, found: number, known: number) {
    super(`${path} has schema version ${found} but this Haven knows only up to ${known}; upgrade Haven (or restore a backup made by this version)`);
    this.name = 'SchemaTooNewError';
  }
}

export function migrate(path: string, db: Db, migrations: readonly Migration[]): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > migrations.length) throw new SchemaTooNewError(path, from, migrations.length);
  for (let v = from; v < migrations.length; v++) {
    db.transaction(() => {
      migrations[v](db);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
  return { from, to: migrations.length };
}
