/**
 * @module node/upgrade/migrate
 * `haven migrate`: what a release runs against the data before it is let
 * loose on it, and the upgrade's health check of that release. Opening a
 * database runs its migrations (node/store, keyed on user_version), so this
 * opens every database the node holds a key for — the directory, the spool,
 * every managed-mode mailbox — then reopens each read-only and checks it
 * with `PRAGMA integrity_check`. Zero-access mailboxes cannot be opened
 * without their owner; they migrate at their owner's next login, and are
 * counted as deferred.
 */
import { join } from 'node:path';
import { unwrapKey } from '../crypto/index.js';
import { Store, openEncrypted, type KeyMode } from '../store/index.js';

export interface MigratedDb {
  db: string;
  userVersion: number;
  integrity: 'ok';
}

export interface MigrateReport {
  ok: true;
  databases: MigratedDb[];
  /** Zero-access mailboxes left for their owners' next login. */
  deferred: number;
}

export class HealthCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HealthCheckError';
  }
}

export async function migrateAll(opts: { dataDir: string; masterKey: Buffer; keyMode?: KeyMode }): Promise<MigrateReport> {
  const keys = new Map<string, Buffer>();
  let deferred = 0;
  const store = Store.open({ dataDir: opts.dataDir, masterKey: opts.masterKey, keyMode: opts.keyMode });
  try {
    for (const a of store.directory.listAccounts()) {
      const w = store.directory.wraps(a.id).find((x) => x.kind === 'master');
      if (!w) {
        deferred++;
        continue;
      }
      (await store.openMailbox(a.id)).release();
      keys.set(a.id, await unwrapKey(w.wrapped, opts.masterKey));
    }
  } finally {
    store.close();
  }
  const databases: MigratedDb[] = [];
  const check = (db: string, path: string, key: Buffer) => {
    const conn = openEncrypted(path, key, { readonly: true, create: false });
    try {
      const r = conn.pragma('integrity_check', { simple: true });
      if (r !== 'ok') throw new HealthCheckError(`${db} fails PRAGMA integrity_check after migration: ${String(r)}`);
      databases.push({ db, userVersion: conn.pragma('user_version', { simple: true }) as number, integrity: 'ok' });
    } finally {
      conn.close();
    }
  };
  check('directory', join(opts.dataDir, 'directory.sqlite'), opts.masterKey);
  check('spool', join(opts.dataDir, 'spool.sqlite'), opts.masterKey);
  for (const [id, key] of keys) check(`mailbox-${id}`, join(opts.dataDir, 'mailboxes', `${id}.sqlite`), key);
  return { ok: true, databases, deferred };
}
