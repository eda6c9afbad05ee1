/**
 * @module node/store/directory/sieve
 * Sieve scripts and what filtering must remember, in the directory database
 * (encrypted with the master key). They live here and not in the mailbox
 * because a script runs at SMTP time while a zero-access mailbox is locked:
 * only the directory is open then. Per account: named scripts, at most one
 * active (RFC 5804 §1.5); per domain: global scripts for include :global
 * (RFC 6609), the one named "before" running ahead of every account's own.
 * The memory (vacation replies sent, duplicate ids) is keyed by hashes, so no
 * address or message id is stored even inside the encrypted file.
 */
import { createHash } from 'node:crypto';
import { write, type Db } from '../db.js';
import { NotFoundError, StoreError, translateSqliteError } from '../errors.js';
import { ReadCache } from './read-cache.js';

export class ScriptExistsError extends StoreError {}
export class ActiveScriptError extends StoreError {}
export class ScriptQuotaError extends StoreError {}

export const SIEVE_LIMITS = { maxScriptBytes: 64 * 1024, maxScripts: 32 };
/** The domain script that runs before each account's own. */
export const BEFORE_SCRIPT = 'before';

export const sieveMigration = (db: Db) =>
  db.exec(`
    CREATE TABLE sieve_scripts(
      account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      source TEXT NOT NULL,
      active INTEGER NOT NULL DEFAULT 0,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY(account_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE sieve_domain_scripts(
      domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      source TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY(domain_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE sieve_memory(
      account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      kind TEXT NOT NULL CHECK(kind IN ('vacation','duplicate')),
      key TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY(account_id, kind, key)
    ) WITHOUT ROWID;
    CREATE TABLE sieve_errors(
      account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
      message TEXT NOT NULL,
      at INTEGER NOT NULL
    ) WITHOUT ROWID;
  `);

export interface ScriptInfo {
  name: string;
  active: boolean;
  updatedAt: number;
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

export class SieveRepo {
  private readonly s;

  constructor(
    private readonly path: string,
    private readonly db: Db,
    /** The directory's: every delivery reads the same scripts (read-cache.ts says why it is never stale). */
    private readonly cache = new ReadCache(db),
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      list: p('SELECT name, active, updated_at FROM sieve_scripts WHERE account_id = ? ORDER BY name'),
      get: p('SELECT source FROM sieve_scripts WHERE account_id = ? AND name = ?'),
      active: p('SELECT name, source FROM sieve_scripts WHERE account_id = ? AND active = 1'),
      upsert: p('INSERT INTO sieve_scripts(account_id, name, source, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(account_id, name) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at'),
      rename: p('UPDATE sieve_scripts SET name = ?, updated_at = ? WHERE account_id = ? AND name = ?'),
      remove: p('DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?'),
      deactivate: p('UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active = 1'),
      activate: p('UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ?'),
      count: p('SELECT count(*) AS n FROM sieve_scripts WHERE account_id = ? AND name <> ?'),
      domainGet: p('SELECT s.source FROM sieve_domain_scripts s JOIN domains d ON d.id = s.domain_id WHERE d.name = ? AND s.name = ?'),
      domainList: p('SELECT s.name, s.updated_at FROM sieve_domain_scripts s JOIN domains d ON d.id = s.domain_id WHERE d.name = ? ORDER BY s.name'),
      domainPut: p(
        'INSERT INTO sieve_domain_scripts(domain_id, name, source, updated_at) SELECT id, ?, ?, ? FROM domains WHERE name = ? ON CONFLICT(domain_id, name) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at',
      ),
      domainRemove: p('DELETE FROM sieve_domain_scripts WHERE name = ? AND domain_id = (SELECT id FROM domains WHERE name = ?)'),
      seen: p('SELECT 1 FROM sieve_memory WHERE account_id = ? AND kind = ? AND key = ? AND expires_at > ?'),
      remember: p('INSERT INTO sieve_memory(account_id, kind, key, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET expires_at = excluded.expires_at'),
      prune: p('DELETE FROM sieve_memory WHERE expires_at <= ?'),
      setError: p('INSERT INTO sieve_errors(account_id, message, at) VALUES (?, ?, ?) ON CONFLICT(account_id) DO UPDATE SET message = excluded.message, at = excluded.at'),
      clearError: p('DELETE FROM sieve_errors WHERE account_id = ?'),
      getError: p('SELECT message, at FROM sieve_errors WHERE account_id = ?'),
    };
  }

  private w<T>(fn: () => T): T {
    try {
      return write(this.path, this.db, fn);
    } catch (err) {
      translateSqliteError(err, this.path);
    }
  }

  list(accountId: string): ScriptInfo[] {
    return (this.s.list.all(accountId) as { name: string; active: number; updated_at: number }[]).map((r) => ({ name: r.name, active: r.active === 1, updatedAt: r.updated_at }));
  }

  get(accountId: string, name: string): string | null {
    return this.cache.get('sieve', `${accountId}\0${name}`, () => (this.s.get.get(accountId, name) as { source: string } | undefined)?.source ?? null);
  }

  active(accountId: string): { name: string; source: string } | null {
    return this.cache.get('sieve-active', accountId, () => {
      const r = this.s.active.get(accountId) as { name: string; source: string } | undefined;
      return r ? Object.freeze({ name: r.name, source: r.source }) : null;
    });
  }

  /** Throws ScriptQuotaError when the script or the count would pass the limits (RFC 5804 §2.3 HAVESPACE). */
  checkSpace(accountId: string, name: string, bytes: number): void {
    if (bytes > SIEVE_LIMITS.maxScriptBytes) throw new ScriptQuotaError(`a script may hold at most ${SIEVE_LIMITS.maxScriptBytes} bytes`);
    const n = (this.s.count.get(accountId, name) as { n: number }).n;
    if (n >= SIEVE_LIMITS.maxScripts) throw new ScriptQuotaError(`at most ${SIEVE_LIMITS.maxScripts} scripts per account; delete one first`);
  }

  /** Stores (or replaces) a script; the caller has checked that it compiles. */
  put(accountId: string, name: string, source: string): void {
    this.checkSpace(accountId, name, Buffer.byteLength(source));
    this.w(() => this.s.upsert.run(accountId, name, source, Date.now()));
  }

  rename(accountId: string, from: string, to: string): void {
    this.w(() => {
      if (this.get(accountId, from) === null) throw new NotFoundError(`no script named "${from}"`);
      if (from !== to && this.get(accountId, to) !== null) throw new ScriptExistsError(`a script named "${to}" already exists`);
      this.s.rename.run(to, Date.now(), accountId, from);
    });
  }

  remove(accountId: string, name: string): void {
    this.w(() => {
      if (this.active(accountId)?.name === name) throw new ActiveScriptError(`"${name}" is the active script; activate another (or none) first`);
      if (this.s.remove.run(accountId, name).changes === 0) throw new NotFoundError(`no script named "${name}"`);
    });
  }

  /** Makes `name` the one active script; null deactivates all (RFC 5804 §2.8). */
  setActive(accountId: string, name: string | null): void {
    this.w(() => {
      if (name !== null && this.get(accountId, name) === null) throw new NotFoundError(`no script named "${name}"`);
      this.s.deactivate.run(accountId);
      if (name !== null) this.s.activate.run(accountId, name);
    });
  }

  domainScript(domain: string, name: string): string | null {
    const d = domain.toLowerCase();
    return this.cache.get('sieve-domain', `${d}\0${name}`, () => (this.s.domainGet.get(d, name) as { source: string } | undefined)?.source ?? null);
  }

  domainScripts(domain: string): { name: string; updatedAt: number }[] {
    return (this.s.domainList.all(domain.toLowerCase()) as { name: string; updated_at: number }[]).map((r) => ({ name: r.name, updatedAt: r.updated_at }));
  }

  putDomainScript(domain: string, name: string, source: string): void {
    if (Buffer.byteLength(source) > SIEVE_LIMITS.maxScriptBytes) throw new ScriptQuotaError(`a script may hold at most ${SIEVE_LIMITS.maxScriptBytes} bytes`);
    const n = this.w(() => this.s.domainPut.run(name, source, Date.now(), domain.toLowerCase()).changes);
    if (n === 0) throw new NotFoundError(`no domain ${domain}`);
  }

  removeDomainScript(domain: string, name: string): void {
    if (this.w(() => this.s.domainRemove.run(name, domain.toLowerCase()).changes) === 0) throw new NotFoundError(`no script "${name}" for ${domain}`);
  }

  /** Whether `key` was remembered and has not expired (vacation replies, duplicate ids). */
  seen(accountId: string, kind: 'vacation' | 'duplicate', key: string, now = Date.now()): boolean {
    return this.s.seen.get(accountId, kind, hashKey(key), now) !== undefined;
  }

  remember(accountId: string, kind: 'vacation' | 'duplicate', entries: { key: string; expiresAt: number }[]): void {
    if (entries.length === 0) return;
    const now = Date.now();
    this.w(() => {
      for (const e of entries) this.s.remember.run(accountId, kind, hashKey(e.key), e.expiresAt);
      // Expired entries go with the next write: the table stays as small as the live periods.
      this.s.prune.run(now);
    });
  }

  /** The last problem a script had at delivery, shown to the owner; null clears it. */
  setError(accountId: string, message: string | null): void {
    if (message === null) {
      if (this.lastError(accountId)) this.w(() => this.s.clearError.run(accountId));
      return;
    }
    this.w(() => this.s.setError.run(accountId, message, Date.now()));
  }

  lastError(accountId: string): { message: string; at: number } | null {
    // Asked after every script that ran (to clear an old error): usually there is none.
    return this.cache.get('sieve-error', accountId, () => {
      const r = this.s.getError.get(accountId) as { message: string; at: number } | undefined;
      return r ? Object.freeze({ message: r.message, at: r.at }) : null;
    });
  }
}
