/**
 * @module node/transfer/sink
 * Where imported mail lands: one account's open mailbox. Folders are found
 * or made (a source's special-use folder maps onto the account's own Sent,
 * Drafts, Trash, Junk, Archive); each batch (or slice of one, in the node)
 * is written in one transaction together with its import keys and the
 * source cursor, so a kill leaves either all of it and its record or none. A message whose key
 * the folder already has is skipped; one whose key another folder has
 * (a Gmail label) is copied there, sharing its stored bytes.
 */
import { createHash } from 'node:crypto';
import { parseMessage, type ParsedMessage } from '../mime/index.js';
import type { Folder, ImportCursor, Mailbox } from '../store/index.js';

export interface IncomingMessage {
  raw: Buffer;
  flags: string[];
  internalDate: number | null;
  /** The source's UID, when it has them (IMAP). */
  uid?: number;
}

/** How a folder's messages relate to the rest (Gmail's All Mail holds every label's messages again). */
export type FolderPolicy = 'append' | 'skip-if-anywhere';

export interface BatchResult {
  imported: number;
  shared: number;
  skipped: number;
}

/** sha256 over Message-ID and a hash of the bytes: hashes only reach the disk. */
export function importKey(raw: Buffer, parsed: Pick<ParsedMessage, 'envelope'> | null): Buffer {
  const body = createHash('sha256').update(raw).digest();
  const mid = parsed?.envelope.messageId ?? '';
  return createHash('sha256').update('haven-import-v1\0').update(mid).update('\0').update(body).digest();
}

/** A message parsed and keyed, waiting to be stored. */
export interface Prepared {
  parsed: ParsedMessage;
  key: Buffer;
}

function prepared(raw: Buffer): Prepared {
  const parsed = parseMessage(raw);
  return { parsed, key: importKey(raw, parsed) };
}

const SPECIAL = new Set(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive']);

export class MailSink {
  constructor(private readonly mailbox: Mailbox) {}

  /** The folder for a source folder: by special use first, then by name (made when missing). */
  folder(name: string, specialUse: string | null): Folder {
    const f = this.mailbox.folders;
    if (specialUse && SPECIAL.has(specialUse)) {
      const own = f.list().find((x) => x.specialUse === specialUse);
      if (own) return own;
    }
    return f.get(name) ?? f.create(name, specialUse && SPECIAL.has(specialUse) ? specialUse : null);
  }

  cursor(source: Buffer): ImportCursor | null {
    return this.mailbox.imports.cursor(source);
  }

  setCursor(source: Buffer, c: ImportCursor): void {
    this.mailbox.imports.setCursor(source, c);
  }

  /**
   * Parses and hashes messages of `batch` from `from` on into `ready` (by
   * index) until `budgetMs` of work is spent, at least one; returns the index
   * past the last one ready. Inside the node this is a slice of its own, so a
   * large message's parse and its storing each hold the event loop apart.
   */
  prepare(batch: readonly IncomingMessage[], ready: Prepared[], from: number, budgetMs: number): number {
    const started = performance.now();
    let i = from;
    while (i < batch.length && (i === from || performance.now() - started < budgetMs)) {
      ready[i] ??= prepared(batch[i].raw);
      i++;
    }
    return i;
  }

  /**
   * Writes messages of `batch` from `from` on (up to `to`) into `folder` in
   * one transaction, with the cursor that says the source folder is done up
   * to the last one written (when the source has UIDs). With `budgetMs`,
   * stops taking messages once that much work is done (at least one is
   * always taken) and returns how many it took, so the caller can yield to
   * the event loop and write the rest in the next slice: inside the node
   * every SMTP, IMAP and DAV session waits while this runs (issue 18: import
   * must not stop mail delivery). Messages `prepare` made ready are not
   * parsed again.
   */
  write(
    folder: Folder,
    batch: readonly IncomingMessage[],
    policy: FolderPolicy,
    cursor?: { source: Buffer; uidValidity: number },
    slice: { from?: number; to?: number; budgetMs?: number; ready?: Prepared[] } = {},
  ): BatchResult & { taken: number } {
    const { imports, messages } = this.mailbox;
    const from = slice.from ?? 0;
    const to = Math.min(slice.to ?? batch.length, batch.length);
    const budget = slice.budgetMs ?? Infinity;
    const started = performance.now();
    return imports.atomically(() => {
      const r = { imported: 0, shared: 0, skipped: 0, taken: 0 };
      let fresh: { m: IncomingMessage; parsed: ParsedMessage; key: Buffer }[] = [];
      // Appends go in runs, flushed before each copy, so UIDs keep the source's order.
      const appendFresh = () => {
        if (!fresh.length) return;
        const out = messages.appendMany(
          folder.id,
          // INTERNALDATE has whole seconds (RFC 9051 §2.3.3 date-time): kept so, an export and import give the same value.
          fresh.map((p) => ({ raw: p.m.raw, parsed: p.parsed, flags: p.m.flags, internalDate: p.m.internalDate === null ? undefined : Math.floor(p.m.internalDate / 1000) * 1000 })),
          'import',
        );
        out.forEach((o, i) => imports.record(folder.id, fresh[i].key, o.uid));
        r.imported += out.length;
        fresh = [];
      };
      const seen = new Set<string>();
      let bytes = 0;
      for (let i = from; i < to; i++) {
        const m = batch[i];
        // Before each message but the first: would it take the slice past its budget, at the cost per byte seen so far?
        // (Parsing, hashing and indexing are most of a slice; a 200 KB message cost 10 to 60 ms on a loaded 2-core machine.)
        if (r.taken > 0) {
          const spent = performance.now() - started;
          if (spent + (spent / bytes) * m.raw.length >= budget) break;
        }
        bytes += m.raw.length;
        r.taken++;
        const { parsed, key } = slice.ready?.[i] ?? prepared(m.raw);
        if (slice.ready) delete slice.ready[i];
        const k = key.toString('hex');
        if (seen.has(k) || imports.has(folder.id, key)) {
          r.skipped++;
          continue;
        }
        seen.add(k);
        const elsewhere = imports.find(key);
        if (elsewhere && policy === 'skip-if-anywhere') {
          r.skipped++;
          continue;
        }
        if (elsewhere) {
          appendFresh();
          // Same message under another label: a second folder entry on the same bytes, with this folder's flags.
          const { pairs } = messages.copy(elsewhere.folderId, [elsewhere.uid], folder.id, 'import');
          if (pairs.length) {
            const uid = pairs[0][1];
            messages.storeFlags(folder.id, [uid], 'set', m.flags, { origin: 'import' });
            imports.record(folder.id, key, uid);
            r.shared++;
            continue;
          }
        }
        fresh.push({ m, parsed, key });
        // In slices each message is stored as it comes, so the clock above counts its storing (full-text index) too.
        if (budget !== Infinity) appendFresh();
      }
      appendFresh();
      const lastUid = batch[from + r.taken - 1]?.uid;
      if (cursor && lastUid !== undefined) imports.setCursor(cursor.source, { uidValidity: cursor.uidValidity, lastUid });
      return r;
    });
  }
}
