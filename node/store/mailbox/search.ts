/**
 * @module node/store/mailbox/search
 * The SQL IMAP SEARCH needs beyond MessageRepo's reads: full-text matches
 * through the FTS5 index (TEXT and BODY keys) and the per-message fields
 * SORT and THREAD order by, read in one pass instead of one query a message.
 */
import type { MailboxContext } from './context.js';

export interface SortFields {
  uid: number;
  sentAt: number | null;
  internalDate: number;
  size: number;
  threadId: number;
  parsed: string;
}

export class SearchRepo {
  private readonly s;

  constructor(private readonly ctx: MailboxContext) {
    const p = (sql: string) => ctx.db.prepare(sql);
    this.s = {
      fts: p('SELECT m.uid FROM messages m WHERE m.folder_id = ? AND m.blob_id IN (SELECT rowid FROM fts WHERE fts MATCH ?)').pluck(),
      sortFields: p(
        'SELECT m.uid, b.sent_at AS sentAt, m.internal_date AS internalDate, m.size, b.thread_id AS threadId, b.parsed FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.folder_id = ? ORDER BY m.uid',
      ),
    };
  }

  /**
   * UIDs whose indexed text contains every word of `text` as a phrase (the
   * last word as a prefix). `body` limits the match to the body column.
   * Returns null when `text` has no indexable word, so the caller can fall
   * back to scanning bytes.
   */
  matchText(folderId: number, text: string, body: boolean): Set<number> | null {
    const words = text.match(/[\p{L}\p{N}]+/gu);
    if (!words) return null;
    const phrase = '"' + words.join(' ').replace(/"/g, '""') + '"*';
    const q = body ? `body : ${phrase}` : phrase;
    return new Set(this.s.fts.all(folderId, q) as number[]);
  }

  /** Every message's sort and thread fields in UID order. */
  sortFields(folderId: number): SortFields[] {
    return this.s.sortFields.all(folderId) as SortFields[];
  }
}
