/**
 * @module node/store/spool
 * The sealed inbox: mail for mailboxes that are locked, each entry already
 * encrypted to the owner's X25519 key (node/crypto sealed-box). The spool
 * database is itself encrypted with the master key, which hides even the
 * per-account counts. Sequence numbers only grow (AUTOINCREMENT), which is
 * what makes draining exactly-once: the mailbox records the last sequence it
 * took in the same transaction as the message.
 */
import { announceOpened, closeDb, openEncrypted, write, writeDeferred, type Db } from './db.js';
import { translateSqliteError } from './errors.js';
import { migrate, type Migration } from './migrate.js';

export const spoolMigrations: readonly Migration[] = [
  (db) =>
    db.exec(`
    CREATE TABLE spool(
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      account_id TEXT NOT NULL,
      sealed BLOB NOT NULL,
      size INTEGER NOT NULL,
      received_at INTEGER NOT NULL
    );
    CREATE INDEX spool_account ON spool(account_id, seq);
  `),
];

export interface SpoolEntry {
  seq: number;
  sealed: Buffer;
  receivedAt: number;
}

export class Spool {
  private readonly s;

  private constructor(
    readonly path: string,
    readonly db: Db,
  ) {
    this.s = {
      insert: db.prepare('INSERT INTO spool(account_id, sealed, size, received_at) VALUES (?, ?, ?, ?)'),
      pending: db.prepare('SELECT seq, sealed, received_at FROM spool WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      count: db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM spool WHERE account_id = ?'),
      drop: db.prepare('DELETE FROM spool WHERE account_id = ? AND seq <= ?'),
      dropAll: db.prepare('DELETE FROM spool WHERE account_id = ?'),
    };
  }

  static open(path: string, key: Buffer): Spool {
    const db = openEncrypted(path, key);
    migrate(path, db, spoolMigrations);
    announceOpened(path, db, key);
    return new Spool(path, db);
  }

  /** Durable when it returns. */
  add(accountId: string, sealed: Buffer, receivedAt = Date.now()): number {
    try {
      return write(this.path, this.db, () => Number(this.s.insert.run(accountId, sealed, sealed.length, receivedAt).lastInsertRowid));
    } catch (err) {
      translateSqliteError(err, this.path);
    }
  }

  /** Several entries in one durable transaction (one delivery to many locked recipients). */
  addMany(entries: { accountId: string; sealed: Buffer }[], receivedAt = Date.now()): number[] {
    try {
      return write(this.path, this.db, () => entries.map((e) => Number(this.s.insert.run(e.accountId, e.sealed, e.sealed.length, receivedAt).lastInsertRowid)));
    } catch (err) {
      translateSqliteError(err, this.path);
    }
  }

  /** addMany with the fsync off the event loop (db.writeDeferred): durable when `durable` resolves. */
  addManyDeferred(entries: { accountId: string; sealed: Buffer }[], receivedAt = Date.now()): { seqs: number[]; durable: Promise<void> } {
    let r: { result: number[]; durable: Promise<void> };
    try {
      r = writeDeferred(this.path, this.db, () => entries.map((e) => Number(this.s.insert.run(e.accountId, e.sealed, e.sealed.length, receivedAt).lastInsertRowid)));
    } catch (err) {
      translateSqliteError(err, this.path);
    }
    return { seqs: r.result, durable: r.durable.catch((err) => translateSqliteError(err, this.path)) };
  }

  pending(accountId: string, afterSeq: number, limit = 100): SpoolEntry[] {
    return (this.s.pending.all(accountId, afterSeq, limit) as { seq: number; sealed: Buffer; received_at: number }[]).map((r) => ({
      seq: r.seq,
      sealed: r.sealed,
      receivedAt: r.received_at,
    }));
  }

  stats(accountId: string): { messages: number; bytes: number } {
    const r = this.s.count.get(accountId) as { n: number; bytes: number };
    return { messages: r.n, bytes: r.bytes };
  }

  /** Forgets entries the mailbox has already taken. */
  drop(accountId: string, uptoSeq: number): void {
    write(this.path, this.db, () => this.s.drop.run(accountId, uptoSeq));
  }

  dropAll(accountId: string): void {
    write(this.path, this.db, () => this.s.dropAll.run(accountId));
  }

  close(): void {
    closeDb(this.path, this.db);
  }
}
