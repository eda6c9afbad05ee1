/**
 * @module node/store/mailbox/search
 * The SQL IMAP SEARCH needs beyond MessageRepo's reads: substring matches
 * through the FTS5 trigram index (TEXT, BODY, and candidates for the header
 * keys), the decoded-text scan for what the index cannot answer, the
 * per-message fields SORT and THREAD order by (one pass instead of one query
 * a message), and the batched re-indexing of mail stored before the index
 * was trigrams (schema migration 3).
 */
import { bodyText, scanHeader, searchableText, searchHeaderText, type ParsedMessage } from '../../mime/index.js';
import type { MailboxContext } from './context.js';

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
   * confirmed on its decoded text; shorter strings, and messages the
   * backfill has not reached, are scanned.
   */
  matchText(folderId: number, text: string, scope: TextScope): Set<number> {
    if ([...text].length < MIN_INDEXED_CHARS) return this.scan(folderId, text, scope, Number.MAX_SAFE_INTEGER);
    const out = this.confirm(this.s.candidates.iterate(folderId, trigramQuery(text)) as IterableIterator<Row>, text, scope);
    const pending = this.ctx.meta('fts_backfill');
    if (pending > 0) for (const uid of this.scan(folderId, text, scope, pending)) out.add(uid);
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

  /** Every message's sort and thread fields in UID order. */
  sortFields(folderId: number): SortFields[] {
    return this.s.sortFields.all(folderId) as SortFields[];
  }
}
