/**
 * @module node/replication/restore-verify
 * The last step of a restore, per database: one whose key we hold (the
 * directory and spool under the master key, managed-mode mailboxes through
 * the directory, others from a recovery key) is opened and must pass
 * `PRAGMA integrity_check`; one we cannot open (a zero-access mailbox) is
 * checked for SQLite's page structure.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { unwrapKey } from '../crypto/index.js';
import { openEncrypted } from '../store/db.js';
import { Directory } from '../store/directory/directory.js';
import { DIRECTORY_FILE, accountIdOf } from '../store/layout.js';
import { RestoreVerifyError } from './errors.js';
import type { RestoreOptions } from './restore.js';
import { dbHeaderInfo } from './wal.js';
import { readAt } from '../util/read-at.js';

export async function verifyRestored(db: string, file: string, pageSize: number, pages: number, opts: RestoreOptions): Promise<'integrity_check' | 'structure'> {
  const key = await keyFor(db, opts);
  if (key) {
    let conn;
    try {
      conn = openEncrypted(file, key, { readonly: true, create: false });
    } catch (err) {
      throw new RestoreVerifyError(db, `it does not open with its key (${(err as Error).message})`);
    }
    try {
      const r = conn.pragma('integrity_check', { simple: true });
      if (r !== 'ok') throw new RestoreVerifyError(db, `PRAGMA integrity_check says ${String(r)}`);
    } finally {
      conn.close();
    }
    return 'integrity_check';
  }
  const head = readAt(file, 0, 100);
  const info = dbHeaderInfo(head);
  if (!info) throw new RestoreVerifyError(db, 'page 1 does not carry an SQLite header');
  if (info.pageSize !== pageSize) throw new RestoreVerifyError(db, `header page size ${info.pageSize} differs from the replica's ${pageSize}`);
  if (pages < 1) throw new RestoreVerifyError(db, 'no pages');
  return 'structure';
}

export async function keyFor(db: string, opts: RestoreOptions): Promise<Buffer | null> {
  if (db === 'directory' || db === 'spool') return opts.masterKey ?? null;
  const accountId = accountIdOf(db);
  if (accountId === null) return null;
  const given = opts.mailboxKeys?.[accountId];
  if (given) return given;
  if (!opts.masterKey) return null;
  // The directory restored alongside (staging), else the one already there (restoring one mailbox).
  const live = (opts as { liveDir?: string }).liveDir;
  const dirPath = [join(opts.into, DIRECTORY_FILE), ...(live ? [join(live, DIRECTORY_FILE)] : [])].find((p) => existsSync(p)) ?? join(opts.into, DIRECTORY_FILE);
  if (!existsSync(dirPath)) return null;
  // Managed-mode accounts hold a copy of their key wrapped with the master key.
  const conn = openEncrypted(dirPath, opts.masterKey, { readonly: true, create: false });
  try {
    const w = new Directory(dirPath, conn).wraps(accountId).find((x) => x.kind === 'master');
    return w ? await unwrapKey(w.wrapped, opts.masterKey) : null;
  } finally {
    conn.close();
  }
}

