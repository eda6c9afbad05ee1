/**
 * @module node/store/mailbox/context
 * What every repository of one mailbox database shares: the connection, the
 * write wrapper (durable commit, replication notice, disk-full translation),
 * the modseq counter and the change bus. Events are emitted only after the
 * transaction committed, so a session never hears of a change that a crash
 * could still undo.
 */
import { EventEmitter } from 'node:events';
import { write, type Db } from '../db.js';
import { translateSqliteError } from '../errors.js';

export type MailboxChange =
  | { type: 'exists'; folderId: number; uids: number[]; modseq: number; origin?: string }
  | { type: 'flags'; folderId: number; uids: number[]; modseq: number; origin?: string }
  | { type: 'expunge'; folderId: number; uids: number[]; modseq: number; origin?: string }
  | { type: 'folders'; origin?: string }
  | { type: 'dav'; collectionId: number; modseq: number; origin?: string };

export class MailboxContext {
  readonly bus = new EventEmitter();
  private pending: MailboxChange[] = [];
  private readonly getMeta;
  private readonly setMeta;

  constructor(
    readonly path: string,
    readonly db: Db,
    readonly accountId: string,
  ) {
    this.bus.setMaxListeners(0);
    this.getMeta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.setMeta = db.prepare('UPDATE meta SET value = ? WHERE key = ?');
  }

  meta(key: string): number {
    return (this.getMeta.get(key) as number) ?? 0;
  }

  setMetaValue(key: string, value: number): void {
    this.setMeta.run(value, key);
  }

  addUsage(delta: number): void {
    this.setMeta.run(Math.max(0, this.meta('used_bytes') + delta), 'used_bytes');
  }

  /** Next modseq; call inside a write transaction. */
  nextModseq(): number {
    const m = this.meta('modseq') + 1;
    this.setMeta.run(m, 'modseq');
    return m;
  }

  /** Queues an event to be emitted once the surrounding transaction commits. */
  emit(change: MailboxChange): void {
    this.pending.push(change);
  }

  write<T>(fn: () => T): T {
    let result: T;
    try {
      result = write(this.path, this.db, fn);
    } catch (err) {
      this.pending = [];
      translateSqliteError(err, this.path);
    }
    const out = this.pending;
    this.pending = [];
    for (const c of out) this.bus.emit('change', c);
    return result;
  }
}
