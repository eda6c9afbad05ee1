/**
 * @module node/store/mailbox/imports
 * What `haven import` remembers, inside the encrypted mailbox so it commits
 * with the messages it describes: a key per imported message and folder
 * (a hash of its Message-ID and content, never the text), and per source
 * folder the UIDVALIDITY and the highest UID done (keyed on a hash of the
 * source and folder name). A killed import resumed reads both: it skips
 * what the cursor says is done and drops whatever the key says is there.
 */
import type { MailboxContext } from './context.js';

export interface ImportCursor {
  uidValidity: number;
  lastUid: number;
}

export class ImportRepo {
  private readonly s;

  constructor(private readonly ctx: MailboxContext) {
    const p = (sql: string) => ctx.db.prepare(sql);
    this.s = {
      has: p('SELECT 1 FROM import_keys WHERE folder_id = ? AND key = ?').pluck(),
      find: p('SELECT folder_id AS folderId, uid FROM import_keys WHERE key = ? AND EXISTS (SELECT 1 FROM messages m WHERE m.folder_id = import_keys.folder_id AND m.uid = import_keys.uid) LIMIT 1'),
      record: p('INSERT OR IGNORE INTO import_keys(folder_id, key, uid) VALUES (?, ?, ?)'),
      cursor: p('SELECT uidvalidity AS uidValidity, last_uid AS lastUid FROM import_cursors WHERE source = ?'),
      setCursor: p('INSERT OR REPLACE INTO import_cursors(source, uidvalidity, last_uid) VALUES (?, ?, ?)'),
    };
  }

  /** Whether a message with this key was imported into the folder. */
  has(folderId: number, key: Buffer): boolean {
    return this.s.has.get(folderId, key) !== undefined;
  }

  /** A folder copy of an imported message with this key still present, to share its bytes (labels). */
  find(key: Buffer): { folderId: number; uid: number } | null {
    return (this.s.find.get(key) as { folderId: number; uid: number } | undefined) ?? null;
  }

  /** Call inside `atomically`, with the append it describes. */
  record(folderId: number, key: Buffer, uid: number): void {
    this.s.record.run(folderId, key, uid);
  }

  cursor(source: Buffer): ImportCursor | null {
    return (this.s.cursor.get(source) as ImportCursor | undefined) ?? null;
  }

  setCursor(source: Buffer, c: ImportCursor): void {
    this.ctx.write(() => this.s.setCursor.run(source, c.uidValidity, c.lastUid));
  }

  /** One transaction around appends, copies and their records: all land or none. */
  atomically<T>(fn: () => T): T {
    return this.ctx.write(fn);
  }
}
