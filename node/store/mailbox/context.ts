/**
 * @module node/store/mailbox/context
 * What every repository of one mailbox database shares: the connection, the
 * write wrapper (durable commit, replication notice, disk-full translation),
 * the modseq counter and the change bus. Events are emitted only after the
 * transaction committed, so a session never hears of a change that a crash
 * could still undo.
 */
import { EventEmitter } from 'node:events';
import { write, writeDeferred, type Db } from '../db.js';
import { translateSqliteError } from '../errors.js';
import { PendingText } from './fts-queue.js';

export type MailboxChange =
  /** copiedFrom: the folder a COPY or MOVE took them from (absent for new mail), so "moved into Junk" can be told apart. */
  | { type: 'exists'; folderId: number; uids: number[]; modseq: number; origin?: string; copiedFrom?: number }
  /** stored: the STORE that changed them, so "$Junk set" can be told apart from other flag changes. */
  | { type: 'flags'; folderId: number; uids: number[]; modseq: number; origin?: string; stored?: { mode: 'set' | 'add' | 'remove'; flags: string[] } }
  | { type: 'expunge'; folderId: number; uids: number[]; modseq: number; origin?: string }
  | { type: 'folders'; origin?: string }
  | { type: 'dav'; collectionId: number; modseq: number; origin?: string };

export class MailboxContext {
  readonly bus = new EventEmitter();
  /** Decoded text of mail stored but not yet in the full-text index (fts-queue.ts). */
  readonly pendingText = new PendingText();
  private pending: MailboxChange[] = [];
  private commitHooks: (() => void)[] = [];
  /** Events of deferred-sync writes, per write in commit order, held until durable. */
  private held: MailboxChange[][] = [];
  /** Events being emitted now, and those queued behind them by a listener's own write. */
  private readonly outbox: MailboxChange[] = [];
  private delivering = false;
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

  /**
   * Runs fn once the surrounding transaction has committed — before its
   * fsync, for a deferred write, since reads see it from then on — or never,
   * if it rolls back. For in-memory copies that must match what reads see.
   */
  afterCommit(fn: () => void): void {
    this.commitHooks.push(fn);
  }

  private runCommitHooks(): void {
    const hooks = this.commitHooks;
    this.commitHooks = [];
    for (const h of hooks) h();
  }

  /** Queues an event to be emitted once the surrounding transaction commits. */
  emit(change: MailboxChange): void {
    this.pending.push(change);
  }

  write<T>(fn: () => T): T {
    // Inside another write the commit is the outer one's: its hooks wait for it.
    const outer = !this.db.inTransaction;
    let result: T;
    try {
      result = write(this.path, this.db, fn);
    } catch (err) {
      this.pending = [];
      // Dropped at any depth: an index that misses a change it was due keeps its old HIGHESTMODSEQ, so it is rebuilt, never wrong.
      this.commitHooks = [];
      translateSqliteError(err, this.path);
    }
    if (outer) this.runCommitHooks();
    // Taken before anything is emitted: a listener may write (an IDLE session claiming \Recent),
    // and a deferred write would carry these off as its own, to be told only after its fsync.
    const out = this.pending;
    this.pending = [];
    // A synchronous commit fsyncs the whole WAL: earlier deferred writes are durable now too.
    this.release(this.held.length - 1);
    this.deliver(out);
    return result;
  }

  /**
   * A write whose commit is fsynced off the event loop (db.writeDeferred).
   * Its events are emitted once it is durable, after those of earlier writes.
   */
  writeDeferred<T>(fn: () => T): { result: T; durable: Promise<void> } {
    let r: { result: T; durable: Promise<void> };
    try {
      r = writeDeferred(this.path, this.db, fn);
    } catch (err) {
      this.pending = [];
      this.commitHooks = [];
      translateSqliteError(err, this.path);
    }
    this.runCommitHooks();
    const batch = this.pending;
    this.pending = [];
    this.held.push(batch);
    return {
      result: r.result,
      durable: r.durable.then(
        () => this.release(this.held.indexOf(batch)),
        (err) => translateSqliteError(err, this.path),
      ),
    };
  }

  /** Emits held events up to and including batch i (one fsync of the WAL covers every earlier frame). */
  private release(i: number): void {
    if (i < 0) return;
    for (const b of this.held.splice(0, i + 1)) this.deliver(b);
  }

  /**
   * Emits events in the order given, after any still being emitted: a
   * listener that writes must not have its write's events (or later ones)
   * reach the remaining listeners before the change it is reacting to does.
   */
  private deliver(changes: MailboxChange[]): void {
    for (const c of changes) this.outbox.push(c);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let c = this.outbox.shift(); c; c = this.outbox.shift()) this.bus.emit('change', c);
    } finally {
      this.delivering = false;
    }
  }
}
