/**
 * @module node/store/mailbox/fts-queue
 * New mail's full-text rows are written in batches after delivery, not
 * inside each delivery's transaction: FTS5 flushes its pending terms as a
 * new segment at every commit, and a message has about a thousand distinct
 * trigrams, so one message per transaction cost about 0.4 ms of commit
 * against 0.06 ms a message in a batch of fifty (issue #20). This module
 * holds the two halves that live in memory: the decoded text of mail stored
 * but not yet indexed (so the indexer need not decode it again) and the
 * schedule that runs the indexer. What is indexed is durable in the database
 * (meta `fts_indexed`, search.ts); the schedule only decides when.
 */
import { WritesRefusedError } from '../errors.js';
import { reportUnexpected } from '../../util/unexpected.js';

export interface SearchText {
  headers: string;
  body: string;
}

/** What the pending text of all open mailboxes holds together, in characters. */
export class PendingTextPool {
  used = 0;
  constructor(readonly maxChars: number) {}
}

/**
 * 8 Mi characters across the node: at 450 deliveries a second of 10 KB text
 * each, mail waits 250 ms at most, about 1 Mi characters at any moment.
 */
const sharedPool = new PendingTextPool(8 * 1024 * 1024);

/**
 * Text of blobs awaiting the indexer, from the parse their delivery already
 * made. Bounded by characters, across every open mailbox: past the bound
 * the indexer decodes from the stored message instead, which costs CPU and
 * never correctness.
 */
export class PendingText {
  private readonly texts = new Map<number, SearchText>();

  constructor(private readonly pool: PendingTextPool = sharedPool) {}

  /** Called for every blob stored unindexed, once its transaction committed. */
  onPut: (() => void) | null = null;

  put(blobId: number, text: SearchText): void {
    this.drop(blobId);
    const n = text.headers.length + text.body.length;
    if (this.pool.used + n <= this.pool.maxChars) {
      this.texts.set(blobId, text);
      this.pool.used += n;
    }
    this.onPut?.();
  }

  take(blobId: number): SearchText | undefined {
    const t = this.texts.get(blobId);
    if (t) this.drop(blobId);
    return t;
  }

  drop(blobId: number): void {
    const t = this.texts.get(blobId);
    if (!t) return;
    this.texts.delete(blobId);
    this.pool.used -= t.headers.length + t.body.length;
  }

  /** Forgets every blob at or below `blobId`: indexed now, or deleted before the indexer reached it. */
  dropUpTo(blobId: number): void {
    for (const id of this.texts.keys()) if (id <= blobId) this.drop(id);
  }

  clear(): void {
    for (const id of [...this.texts.keys()]) this.drop(id);
  }

  get size(): number {
    return this.texts.size;
  }
}

export interface IndexSchedule {
  /** Messages waiting before the indexer runs at once. */
  batch: number;
  /** Longest a stored message waits for the indexer otherwise (ms). */
  delayMs: number;
}

/** Measured on 10 KB corpus mail (bench/store.ts): past ~64 a batch the commit's share stops falling. */
export const DEFAULT_INDEX_SCHEDULE: IndexSchedule = { batch: 64, delayMs: 250 };

/**
 * When the indexer runs: once `batch` messages wait, or `delayMs` after the
 * first of them; then slice after slice (`run` does a bounded slice and says
 * whether more remain), one turn of the event loop each, until it catches up.
 */
export class IndexScheduler {
  private waiting = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;

  constructor(
    private readonly run: () => boolean,
    private readonly schedule: IndexSchedule,
  ) {}

  /** `n` more messages wait (one delivered, or a tail found at open that a crash or a close left). */
  added(n = 1): void {
    if (this.closed) return;
    this.waiting += n;
    if (this.waiting >= this.schedule.batch) this.now();
    else if (!this.timer && !this.immediate) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.now();
      }, this.schedule.delayMs);
      this.timer.unref();
    }
  }

  /** Runs at the next turn of the event loop. */
  now(): void {
    if (this.closed || this.immediate) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.immediate = setImmediate(() => this.slice());
    this.immediate.unref();
  }

  private slice(): void {
    this.immediate = null;
    if (this.closed) return;
    this.waiting = 0;
    let more: boolean;
    try {
      more = this.run();
    } catch (err) {
      // Search keeps scanning what is not indexed, so nothing is lost; the next delivery or open tries again.
      // A fenced node (WritesRefusedError) takes no write of any kind, this one included.
      if (!(err instanceof WritesRefusedError)) reportUnexpected(err);
      return;
    }
    if (more) this.now();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }
}
