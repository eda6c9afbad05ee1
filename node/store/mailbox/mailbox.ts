/**
 * @module node/store/mailbox/mailbox
 * One account's open, unlocked mailbox database and its repositories. Opened
 * only by the store's handle cache, which owns its key and its lifetime.
 */
import { announceOpened, closeDb, openEncrypted } from '../db.js';
import { migrate } from '../migrate.js';
import { MailboxContext, type MailboxChange } from './context.js';
import type { RenderedPool } from './rendered.js';
import { DavRepo } from './dav.js';
import { FolderRepo } from './folders.js';
import { DEFAULT_INDEX_SCHEDULE, IndexScheduler, type IndexSchedule } from './fts-queue.js';
import { ImportRepo } from './imports.js';
import { MessageRepo } from './messages.js';
import { mailboxMigrations } from './schema.js';
import { SearchRepo } from './search.js';
import { reportUnexpected } from '../../util/unexpected.js';

/**
 * Messages re-indexed per turn of the event loop after the trigram
 * migration: about 15 ms of work at 2 KB a message, so sessions on the
 * same node barely notice while a large mailbox catches up.
 */
const BACKFILL_BATCH = 100;

/**
 * The indexer's slice of new mail: at most this many messages, and no more
 * taken once this long has gone (ms), so a slice holds the event loop about
 * 10-15 ms with its commit (the import's slices do the same).
 */
const INDEX_SLICE_ROWS = 256;
const INDEX_SLICE_MS = 8;

export class Mailbox {
  readonly folders: FolderRepo;
  readonly messages: MessageRepo;
  readonly dav: DavRepo;
  /** IMAP SEARCH/SORT/THREAD queries (owned by node/imap's author). */
  readonly search: SearchRepo;
  /** What haven import remembers (hashes only). */
  readonly imports: ImportRepo;
  private readonly ctx: MailboxContext;
  private backfillTimer: NodeJS.Timeout | null = null;
  private readonly indexer: IndexScheduler;

  private constructor(
    readonly accountId: string,
    readonly path: string,
    ctx: MailboxContext,
    renderedCacheBytes = 0,
    renderedPool: RenderedPool | null = null,
    indexSchedule: IndexSchedule = DEFAULT_INDEX_SCHEDULE,
  ) {
    this.ctx = ctx;
    this.folders = new FolderRepo(ctx);
    this.messages = new MessageRepo(ctx);
    this.dav = new DavRepo(ctx, renderedCacheBytes, renderedPool);
    this.search = new SearchRepo(ctx);
    this.imports = new ImportRepo(ctx);
    this.indexer = new IndexScheduler(() => this.isOpen && this.search.indexNew(INDEX_SLICE_MS, INDEX_SLICE_ROWS), indexSchedule);
    ctx.pendingText.onPut = () => this.indexer.added();
  }

  /**
   * `renderedCacheBytes`: the DAV layer's rendered-response cache for this mailbox (0, the default, turns it off);
   * `renderedPool`: the bound all open mailboxes' caches share;
   * `indexSchedule`: when new mail's full-text rows are written (fts-queue.ts).
   */
  static open(
    accountId: string,
    path: string,
    key: Buffer,
    opts: { create?: boolean; cacheKiB?: number; renderedCacheBytes?: number; renderedPool?: RenderedPool; indexSchedule?: IndexSchedule } = {},
  ): Mailbox {
    const db = openEncrypted(path, key, { create: opts.create ?? false, cacheKiB: opts.cacheKiB });
    try {
      migrate(path, db, mailboxMigrations);
      const mb = new Mailbox(accountId, path, new MailboxContext(path, db, accountId), opts.renderedCacheBytes, opts.renderedPool ?? null, opts.indexSchedule);
      mb.folders.ensureDefaults();
      mb.dav.ensureDefaults();
      announceOpened(path, db, key);
      mb.scheduleBackfill();
      // Mail stored unindexed before a crash or a close: search scans it meanwhile, the indexer takes it as new mail.
      const tail = mb.search.unindexedCount();
      if (tail > 0) mb.indexer.added(tail);
      return mb;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Subscribe to committed changes; returns the unsubscribe function. */
  onChange(fn: (c: MailboxChange) => void): () => void {
    this.ctx.bus.on('change', fn);
    return () => this.ctx.bus.off('change', fn);
  }

  setQuota(bytes: number): void {
    this.messages.quotaBytes = bytes;
    this.dav.quotaBytes = bytes;
  }

  usedBytes(): number {
    return this.ctx.meta('used_bytes');
  }

  highestModseq(): number {
    return this.ctx.meta('modseq');
  }

  lastSpoolSeq(): number {
    return this.ctx.meta('last_spool_seq');
  }

  /** Records a drained spool entry inside the transaction that stored it. */
  markSpoolSeq(seq: number): void {
    this.ctx.setMetaValue('last_spool_seq', seq);
  }

  integrityCheck(): string {
    return this.ctx.db.pragma('integrity_check', { simple: true }) as string;
  }

  get isOpen(): boolean {
    return this.ctx.db.open;
  }

  /**
   * Indexes mail stored before the trigram index, and copies its envelopes
   * to their own table (schema migration 6), a batch at a time while the
   * mailbox is open; until it is done, search scans what is not indexed yet
   * and FETCH reads envelopes from the parse result, so answers are whole
   * throughout. Stops at close and resumes at the next open.
   */
  private scheduleBackfill(): void {
    if (!this.search.backfillPending() && !this.messages.envelopeBackfillPending()) return;
    this.backfillTimer = setTimeout(() => {
      this.backfillTimer = null;
      if (!this.isOpen) return;
      try {
        const more = this.search.backfillPending() && this.search.backfill(BACKFILL_BATCH);
        const moreEnvelopes = this.messages.envelopeBackfillPending() && this.messages.backfillEnvelopes(BACKFILL_BATCH);
        if (more || moreEnvelopes) this.scheduleBackfill();
      } catch (err) {
        // A full disk or a broken message: search keeps scanning what is left, FETCH reads the parse result; the next open tries again.
        reportUnexpected(err);
      }
    }, 0);
    this.backfillTimer.unref();
  }

  /**
   * Gives back what an unused open mailbox holds beyond its connection: the
   * page cache (decrypted pages; SQLite's shrink_memory), the folders'
   * flag indexes and the rendered DAV responses. Everything comes back on demand.
   */
  /** The connection's page cache limit in KiB (what cacheKiB set). */
  pageCacheKiB(): number {
    return -(this.ctx.db.pragma('cache_size', { simple: true }) as number);
  }

  trimMemory(): void {
    if (!this.isOpen) return;
    this.messages.dropFlagIndexes();
    this.dav.rendered.clear();
    this.ctx.db.pragma('shrink_memory');
  }

  close(): void {
    this.indexer.close();
    this.ctx.pendingText.clear();
    if (this.backfillTimer) clearTimeout(this.backfillTimer);
    this.backfillTimer = null;
    this.dav.rendered.clear();
    closeDb(this.path, this.ctx.db);
  }
}

export type { MailboxChange };
