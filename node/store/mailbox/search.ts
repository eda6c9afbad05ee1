/**
 * @module node/store/mailbox/search
 * The SQL IMAP SEARCH needs beyond MessageRepo's reads: substring matches
 * through the FTS5 trigram index (TEXT, BODY, and candidates for the header
 * keys), the decoded-text scan for what the index cannot answer, the
 * per-message fields SORT and THREAD order by (one pass instead of one query
 * a message), the batched indexing of new mail (fts-queue.ts schedules it)
 * and the re-indexing of mail stored before the index was trigrams (schema
 * migration 3).
 *
 * What the index holds, durably: the blobs with ids above meta fts_backfill
 * and up to meta fts_indexed. Each mark moves in the transaction that writes
 * the rows it covers, so after a crash the rows and the marks agree.
 */
import { bodyText, scanHeader, searchableText, searchHeaderText, type ParsedMessage } from '../../mime/index.js';
import type { MailboxContext } from './context.js';
import type { SearchText } from './fts-queue.js';

export interface SortFields {
  uid: number;
  sentAt: number | null;
  internalDate: number;
  size: number;
  threadId: number;
  parsed: string;
}

/** Trigrams: a shorter string has none to look up, so it is answered by a scan. */
export const MIN_INDEXED_CHARS = 3;

type Row = { uid: number; raw: Buffer; parsed: string };

/**
 * An FTS5 query for the messages holding every trigram of `text` (a
 * superset of those holding the string: the index has no positions).
 * Each trigram is quoted, so no character of the string is query syntax.
 */
export function trigramQuery(text: string): string {
  const cps = [...text];
  const grams = new Set<string>();
  for (let i = 0; i + MIN_INDEXED_CHARS <= cps.length; i++) grams.add(cps.slice(i, i + MIN_INDEXED_CHARS).join(''));
  return [...grams].map((g) => '"' + g.replace(/"/g, '""') + '"').join(' AND ');
}

/** Which part of the searchable text a string is looked for in. */
export type TextScope = 'text' | 'body' | 'headers';

export class SearchRepo {
  private readonly s;

  constructor(private readonly ctx: MailboxContext) {
    const p = (sql: string) => ctx.db.prepare(sql);
    this.s = {
      // Messages holding every trigram of the string somewhere (the index has no positions: schema migration 4).
      candidates: p('SELECT m.uid, b.raw, b.parsed FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.folder_id = ? AND m.blob_id IN (SELECT rowid FROM fts WHERE fts MATCH ?)'),
      // Messages whose text is not in the index: all of them for a scan, or those the backfill has not reached.
      unindexed: p('SELECT m.uid, b.raw, b.parsed FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.folder_id = ? AND m.blob_id <= ?'),
      // New mail the indexer has not reached: by blob id, so the tail costs what it holds, not the folder's size.
      tail: p('SELECT m.uid, b.raw, b.parsed FROM messages m INDEXED BY messages_blob JOIN blobs b ON b.id = m.blob_id WHERE m.blob_id > ? AND m.folder_id = ?'),
      // Ids from the small covering index: the blobs rows sit among the raw bytes' pages.
      newIds: p('SELECT id FROM blobs INDEXED BY blobs_thread WHERE id > ? ORDER BY id LIMIT ?').pluck(),
      countNew: p('SELECT count(*) FROM blobs INDEXED BY blobs_thread WHERE id > ?').pluck(),
      blob: p('SELECT raw, parsed FROM blobs WHERE id = ?'),
      toIndex: p('SELECT id, raw, parsed FROM blobs WHERE id <= ? ORDER BY id DESC LIMIT ?'),
      insertFts: p('INSERT INTO fts(rowid, headers, body) VALUES (?, ?, ?)'),
      sortFields: p(
        'SELECT m.uid, b.sent_at AS sentAt, m.internal_date AS internalDate, m.size, b.thread_id AS threadId, b.parsed FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.folder_id = ? ORDER BY m.uid',
      ),
    };
  }

  /**
   * UIDs whose decoded text contains `text`, case-insensitively (RFC 9051
   * §6.4.4): headers and body for TEXT, the body alone for BODY, the header
   * fields alone for `headers` (a superset for one header key, which the
   * caller narrows to its field). Exact: for strings of three characters or
   * more the index names the messages holding all their trigrams and each is
   * confirmed on its decoded text; shorter strings, messages the backfill
   * has not reached and new mail the indexer has not reached are scanned.
   */
  matchText(folderId: number, text: string, scope: TextScope): Set<number> {
    if ([...text].length < MIN_INDEXED_CHARS) return this.scan(folderId, text, scope, Number.MAX_SAFE_INTEGER);
    const out = this.confirm(this.s.candidates.iterate(folderId, trigramQuery(text)) as IterableIterator<Row>, text, scope);
    const pending = this.ctx.meta('fts_backfill');
    if (pending > 0) for (const uid of this.scan(folderId, text, scope, pending)) out.add(uid);
    const tail = this.s.tail.iterate(this.ctx.meta('fts_indexed'), folderId) as IterableIterator<Row>;
    for (const uid of this.confirm(tail, text, scope)) out.add(uid);
    return out;
  }

  /**
   * The decoded text of each message up to blob id `upTo`, searched here.
   * Lower-casing both sides folds case as the trigram index does (Unicode
   * case folding, accents kept), so scan and index give the same answers.
   */
  private scan(folderId: number, text: string, scope: TextScope, upTo: number): Set<number> {
    return this.confirm(this.s.unindexed.iterate(folderId, upTo) as IterableIterator<Row>, text, scope);
  }

  /** The UIDs of the rows whose decoded text (in scope) holds `text`, case-insensitively. */
  private confirm(rows: IterableIterator<Row>, text: string, scope: TextScope): Set<number> {
    const needle = text.toLowerCase();
    const out = new Set<number>();
    const has = (s: string) => s.toLowerCase().includes(needle);
    for (const r of rows) {
      const { structure } = JSON.parse(r.parsed) as Pick<ParsedMessage, 'structure'>;
      // Only the text the scope needs is decoded; TEXT tries the cheaper headers first.
      const found =
        (scope !== 'body' && has(searchHeaderText(r.raw, scanHeader(r.raw, 0, structure.bodyStart).fields, structure))) ||
        (scope !== 'headers' && has(bodyText(r.raw, structure)));
      if (found) out.add(r.uid);
    }
    return out;
  }

  /** Whether mail stored before the trigram index is still waiting to be indexed. */
  backfillPending(): boolean {
    return this.ctx.meta('fts_backfill') > 0;
  }

  /**
   * Indexes up to `limit` not-yet-indexed messages, newest first (the ones
   * searched most), in one write. Returns whether any remain.
   */
  backfill(limit: number): boolean {
    return this.ctx.write(() => {
      const upTo = this.ctx.meta('fts_backfill');
      if (upTo <= 0) return false;
      const rows = this.s.toIndex.all(upTo, limit) as { id: number; raw: Buffer; parsed: string }[];
      for (const r of rows) {
        const { structure } = JSON.parse(r.parsed) as Pick<ParsedMessage, 'structure'>;
        const t = searchableText(r.raw, structure);
        this.s.insertFts.run(r.id, t.headers, t.body);
      }
      const next = rows.length < limit ? 0 : rows[rows.length - 1].id - 1;
      this.ctx.setMetaValue('fts_backfill', next);
      return next > 0;
    });
  }

  /** How many stored messages wait for the indexer (blobs above fts_indexed). */
  unindexedCount(): number {
    return this.s.countNew.get(this.ctx.meta('fts_indexed')) as number;
  }

  /**
   * Writes the index rows of new mail, oldest first, in one transaction of
   * at most `maxRows` messages that stops taking more once `budgetMs` has
   * gone (the event loop is held for the slice), and moves fts_indexed past
   * them in the same transaction. Its commit is fsynced off the event loop
   * and acknowledges nothing: a crash before the fsync loses rows and mark
   * together, and the next open writes them again. Returns whether more wait.
   */
  indexNew(budgetMs: number, maxRows: number): boolean {
    if (this.s.newIds.get(this.ctx.meta('fts_indexed'), 1) === undefined) return false;
    const { result, durable } = this.ctx.writeDeferred(() => {
      const from = this.ctx.meta('fts_indexed');
      const ids = this.s.newIds.all(from, maxRows) as number[];
      if (ids.length === 0) return false;
      const deadline = performance.now() + budgetMs;
      let last = from;
      for (const id of ids) {
        const t = this.ctx.pendingText.take(id) ?? this.decode(id);
        this.s.insertFts.run(id, t.headers, t.body);
        last = id;
        if (performance.now() > deadline) break;
      }
      this.ctx.setMetaValue('fts_indexed', last);
      this.ctx.pendingText.dropUpTo(last);
      return last !== ids[ids.length - 1] || ids.length === maxRows;
    });
    durable.catch(() => undefined); // nothing waits on it; a lost slice is written again from the marks
    return result;
  }

  /** A stored message's searchable text, decoded again (after a restart, or past PendingText's bound). */
  private decode(blobId: number): SearchText {
    const r = this.s.blob.get(blobId) as { raw: Buffer; parsed: string };
    const { structure } = JSON.parse(r.parsed) as Pick<ParsedMessage, 'structure'>;
    return searchableText(r.raw, structure);
  }

  /** Every message's sort and thread fields in UID order. */
  sortFields(folderId: number): SortFields[] {
    return this.s.sortFields.all(folderId) as SortFields[];
  }
}
