/**
 * @module node/store/mailbox/messages
 * Messages in folders: append (parse once; indexed in batches, fts-queue.ts), flags with modseq,
 * expunge with tombstones for QRESYNC, copy and move sharing one blob, and
 * the reads FETCH needs. Every write bumps the folder's HIGHESTMODSEQ in the
 * same transaction as the change it describes.
 */
import { parseMessage, type Envelope, type ParsedMessage } from '../../mime/index.js';
import { NoSuchMailboxError, QuotaExceededError } from '../errors.js';
import type { MailboxContext } from './context.js';
import { FolderFlags, type FlagEntry } from './flag-index.js';
import { DELETED, joinFlags, mergeKeywords, splitFlags } from './flags.js';
import { releaseBlobs, type Folder } from './folders.js';

export interface MessageMeta {
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: number;
  size: number;
  blobId: number;
  threadId: number;
}

export interface AppendOptions {
  flags?: string[];
  internalDate?: number;
  /** Already parsed (delivery parses once for spam checks); parsed here otherwise. */
  parsed?: ParsedMessage;
  /** Session id of the writer, so its own session can ignore the echo. */
  origin?: string;
  /** Skip the quota check (system messages such as bounces). */
  ignoreQuota?: boolean;
}

export interface AppendResult {
  uid: number;
  uidValidity: number;
  modseq: number;
  folderId: number;
}

/** What a FETCH of flags reads: current flags (names joined by spaces) and mod-sequences by UID. */
export interface FlagReader {
  /** null if the folder has no such UID. */
  flags(uid: number): string | null;
  /** 0 if the folder has no such UID. */
  modseqOf(uid: number): number;
  /** The system-flag bits (store/mailbox/flags: SEEN, ANSWERED, ...), or -1 if the folder has no such UID. */
  bitsOf(uid: number): number;
  /** The keywords joined by spaces ("" for none): only meaningful for a UID bitsOf found. */
  keywordsOf(uid: number): string;
  /** Every keyword any message here carries (and perhaps some none does now), by lower-cased name; it only grows. */
  keywordNames(): ReadonlyMap<string, string>;
}

export type FlagMode = 'set' | 'add' | 'remove';

type Row = Record<string, unknown>;
type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;
const toMeta = (r: Row): MessageMeta => ({
  uid: r.uid as number,
  modseq: r.modseq as number,
  flags: joinFlags(r.flags as number, r.keywords as string),
  internalDate: r.internal_date as number,
  size: r.size as number,
  blobId: r.blob_id as number,
  threadId: r.thread_id as number,
});

const META_COLS = 'm.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.blob_id, b.thread_id';
/** The thread id from the covering index: the blobs row itself sits behind the raw bytes' overflow pages. */
const THREAD_JOIN = 'JOIN blobs b INDEXED BY blobs_thread ON b.id = m.blob_id';

export class MessageRepo {
  private readonly s;
  /** Quota in bytes (0 = none); set by the owner of the handle from the directory. */
  quotaBytes = 0;

  /** In-memory UIDs and flags of the folders sessions have selected (flag-index.ts). */
  private readonly flagIndexes = new Map<number, FolderFlags>();

  constructor(private readonly ctx: MailboxContext) {
    const p = (sql: string) => ctx.db.prepare(sql);
    this.s = {
      folder: p('SELECT * FROM folders WHERE id = ?'),
      // The id SQLite would pick itself (no AUTOINCREMENT: the largest plus one), taken inside the write
      // so a new thread's id (its first blob's) goes into the row as it is inserted; see insertBlob.
      nextBlobId: p('SELECT coalesce(max(id), 0) + 1 FROM blobs').pluck(),
      insertBlob: p('INSERT INTO blobs(id, raw, size, parsed, refs, thread_id, sent_at, created_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)'),
      threadOf: p('SELECT thread_id FROM msgids WHERE message_id = ?').pluck(),
      insertMsgid: p('INSERT OR IGNORE INTO msgids(message_id, thread_id) VALUES (?, ?)'),
      ref: p('UPDATE blobs SET refs = refs + 1 WHERE id = ?'),
      insertMsg: p('INSERT INTO messages(folder_id, uid, blob_id, modseq, flags, keywords, internal_date, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      bumpFolder: p('UPDATE folders SET uidnext = ?, highestmodseq = ? WHERE id = ?'),
      touchFolder: p('UPDATE folders SET highestmodseq = ? WHERE id = ?'),
      uids: p('SELECT uid FROM messages WHERE folder_id = ? ORDER BY uid').pluck(),
      metaAll: p(`SELECT ${META_COLS} FROM messages m ${THREAD_JOIN} WHERE m.folder_id = ? ORDER BY m.uid`),
      metaRange: p(`SELECT ${META_COLS} FROM messages m ${THREAD_JOIN} WHERE m.folder_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`),
      plainRange: p('SELECT uid, modseq, flags, keywords, internal_date, size, blob_id FROM messages WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid'),
      // The flag index's source (flag-index.ts): one string built by SQLite, as a row object per message costs better-sqlite3 about 2 µs.
      flagSnapshot: p(
        "SELECT group_concat(CASE WHEN keywords = '' THEN uid || ' ' || flags || ' ' || modseq ELSE uid || ' ' || flags || ' ' || modseq || ' ' || keywords END, char(10)) " +
          'FROM (SELECT uid, flags, keywords, modseq FROM messages WHERE folder_id = ? ORDER BY uid)',
      ).pluck(),
      highestModseq: p('SELECT highestmodseq FROM folders WHERE id = ?').pluck(),
      metaOne: p(`SELECT ${META_COLS}, m.id AS row_id FROM messages m ${THREAD_JOIN} WHERE m.folder_id = ? AND m.uid = ?`),
      changedSince: p(`SELECT ${META_COLS} FROM messages m ${THREAD_JOIN} WHERE m.folder_id = ? AND m.modseq > ? ORDER BY m.uid`),
      expungedSince: p('SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid').pluck(),
      setFlags: p('UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE folder_id = ? AND uid = ?'),
      raw: p('SELECT raw FROM blobs WHERE id = ?').pluck(),
      parsed: p('SELECT parsed FROM blobs WHERE id = ?').pluck(),
      envelope: p('SELECT envelope FROM envelopes WHERE blob_id = ?').pluck(),
      // OR REPLACE: a blob id freed by the last delete can come back (no AUTOINCREMENT).
      insertEnvelope: p('INSERT OR REPLACE INTO envelopes(blob_id, envelope) VALUES (?, ?)'),
      toCopy: p('SELECT id, parsed FROM blobs WHERE id <= ? ORDER BY id DESC LIMIT ?'),
      deleteMsg: p('DELETE FROM messages WHERE folder_id = ? AND uid = ?'),
      tombstone: p('INSERT OR REPLACE INTO expunged(folder_id, uid, modseq) VALUES (?, ?, ?)'),
      deletedUids: p('SELECT uid FROM messages WHERE folder_id = ? AND (flags & 8) != 0 ORDER BY uid').pluck(),
      recentGet: p('SELECT value FROM meta WHERE key = ?').pluck(),
      recentSet: p('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      countFrom: p('SELECT count(*) FROM messages WHERE folder_id = ? AND uid >= ?').pluck(),
      pop3List: p('SELECT uid, size, blob_id AS blobId FROM messages WHERE folder_id = ? AND pop3_hidden = 0 ORDER BY uid'),
      pop3Hide: p('UPDATE messages SET pop3_hidden = 1 WHERE folder_id = ? AND uid = ?'),
    };
  }

  private folder(folderId: number): Folder & { uidnext: number } {
    const r = this.s.folder.get(folderId) as Row | undefined;
    if (!r) throw new NoSuchMailboxError('folder no longer exists');
    return { id: r.id as number, name: r.name as string, specialUse: r.special_use as string, uidValidity: r.uidvalidity as number, uidNext: r.uidnext as number, uidnext: r.uidnext as number, highestModseq: r.highestmodseq as number, subscribed: r.subscribed === 1 };
  }

  usedBytes(): number {
    return this.ctx.meta('used_bytes');
  }

  private checkQuota(extra: number): void {
    if (this.quotaBytes > 0 && this.usedBytes() + extra > this.quotaBytes) throw new QuotaExceededError(this.usedBytes(), this.quotaBytes);
  }

  /**
   * Stores a new blob, with its one reference, parse result and thread; call
   * inside a write. Its full-text row comes later, with others' (fts-queue.ts):
   * its decoded text waits in memory once this commits. The row is written once, complete:
   * SQLite rebuilds a whole record on UPDATE, so setting a new thread's id
   * afterwards (and its blobs_thread entry) copied the raw message through
   * its overflow pages a second time, and the reference count a third.
   */
  private insertBlob(raw: Buffer, parsed: ParsedMessage, now: number): { blobId: number; threadId: number } {
    const { headerText, bodyText, ...stored } = parsed;
    let threadId: number | null = null;
    for (const id of [...parsed.references, ...parsed.inReplyTo]) {
      const t = this.s.threadOf.get(id) as number | undefined;
      if (t !== undefined) {
        threadId = t;
        break;
      }
    }
    const blobId = this.s.nextBlobId.get() as number;
    // A new thread is named after its first message.
    threadId ??= blobId;
    this.s.insertBlob.run(blobId, raw, raw.length, JSON.stringify(stored), threadId, parsed.sentAt, now);
    this.s.insertEnvelope.run(blobId, JSON.stringify(stored.envelope));
    for (const id of [parsed.messageId, ...parsed.references, ...parsed.inReplyTo]) if (id) this.s.insertMsgid.run(id, threadId);
    // A freed id taken again (no AUTOINCREMENT) at or below what the indexer passed: move the mark back below it.
    if (blobId <= this.ctx.meta('fts_indexed')) this.ctx.setMetaValue('fts_indexed', Math.max(blobId - 1, this.ctx.meta('fts_backfill')));
    this.ctx.afterCommit(() => this.ctx.pendingText.put(blobId, { headers: headerText, body: bodyText }));
    this.ctx.addUsage(raw.length);
    return { blobId, threadId };
  }

  /** Appends one message; durable when this returns. */
  append(folderId: number, raw: Buffer, opts: AppendOptions = {}): AppendResult {
    return this.appendMany(folderId, [{ raw, ...opts }], opts.origin)[0];
  }

  /** MULTIAPPEND and spool drains: all or nothing in one transaction. */
  appendMany(folderId: number, items: ({ raw: Buffer } & AppendOptions)[], origin?: string, inTx?: () => void): AppendResult[] {
    const prepared = items.map((it) => ({ ...it, parsed: it.parsed ?? parseMessage(it.raw) }));
    return this.ctx.write(() => this.appendInTx(folderId, prepared, origin, inTx));
  }

  /**
   * appendMany for group-committed mail delivery: the commit is fsynced off
   * the event loop; durable (and announced to sessions) when `durable` resolves.
   */
  appendManyDeferred(folderId: number, items: ({ raw: Buffer } & AppendOptions)[], origin?: string): { results: AppendResult[]; durable: Promise<void> } {
    const prepared = items.map((it) => ({ ...it, parsed: it.parsed ?? parseMessage(it.raw) }));
    const { result, durable } = this.ctx.writeDeferred(() => this.appendInTx(folderId, prepared, origin));
    return { results: result, durable };
  }

  private appendInTx(folderId: number, prepared: ({ raw: Buffer; parsed: ParsedMessage } & AppendOptions)[], origin?: string, inTx?: () => void): AppendResult[] {
    const f = this.folder(folderId);
    if (!prepared.every((p) => p.ignoreQuota)) this.checkQuota(prepared.reduce((n, p) => n + p.raw.length, 0));
    const now = Date.now();
    const track = this.indexTracker(folderId);
    const modseq = this.ctx.nextModseq();
    let uid = f.uidnext;
    const out: AppendResult[] = [];
    const added: FlagEntry[] = [];
    for (const p of prepared) {
      const { blobId } = this.insertBlob(p.raw, p.parsed, now);
      const { bits, keywords } = splitFlags(p.flags ?? []);
      this.s.insertMsg.run(folderId, uid, blobId, modseq, bits, keywords.join(' '), p.internalDate ?? now, p.raw.length);
      out.push({ uid, uidValidity: f.uidValidity, modseq, folderId });
      if (track) added.push({ uid, bits, keywords: keywords.join(' '), modseq });
      uid++;
    }
    this.s.bumpFolder.run(uid, modseq, folderId);
    track?.(modseq, (idx) => idx.append(added));
    inTx?.();
    this.ctx.emit({ type: 'exists', folderId, uids: out.map((o) => o.uid), modseq, origin });
    return out;
  }

  /** Forgets the in-memory flag indexes (rebuilt at their next use): an idle mailbox's memory. */
  dropFlagIndexes(): void {
    this.flagIndexes.clear();
  }

  uids(folderId: number): number[] {
    return this.s.uids.all(folderId) as number[];
  }

  list(folderId: number, range?: { from: number; to: number }): MessageMeta[] {
    const rows = range ? this.s.metaRange.all(folderId, range.from, range.to) : this.s.metaAll.all(folderId);
    return (rows as Row[]).map(toMeta);
  }

  /** list without thread ids: one table, no join per row (IMAP FETCH over a whole mailbox). */
  listPlain(folderId: number, from: number, to: number): Omit<MessageMeta, 'threadId'>[] {
    const rows = this.s.plainRange.all(folderId, from, to) as Row[];
    const out: Omit<MessageMeta, 'threadId'>[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      out[i] = { uid: r.uid as number, modseq: r.modseq as number, flags: joinFlags(r.flags as number, r.keywords as string), internalDate: r.internal_date as number, size: r.size as number, blobId: r.blob_id as number };
    }
    return out;
  }

  /** A folder's UIDs, ascending, as a typed array: for a list held as long as a session (IMAP's selected view). */
  uidArray(folderId: number): Uint32Array {
    return this.flagIndex(folderId).uidList();
  }

  /**
   * Current flags and mod-sequences by UID, from the folder's in-memory
   * index. Good until the event loop turns: ask again after any await, as a
   * write in between may have replaced the index.
   */
  flagLookup(folderId: number): FlagReader {
    return this.flagIndex(folderId);
  }

  /** Every keyword in use in the folder (FlagReader.keywordNames), or null once the folder is gone: for change delivery, which must not throw. */
  keywordNames(folderId: number): ReadonlyMap<string, string> | null {
    if (this.s.highestModseq.get(folderId) === undefined) return null;
    return this.flagIndex(folderId).keywordNames();
  }

  /** The folder's flag index, built or rebuilt when it does not stand at the folder's HIGHESTMODSEQ. */
  private flagIndex(folderId: number): FolderFlags {
    const idx = this.flagIndexes.get(folderId);
    const modseq = this.s.highestModseq.get(folderId) as number | undefined;
    if (modseq === undefined) {
      this.flagIndexes.delete(folderId);
      throw new NoSuchMailboxError('folder no longer exists');
    }
    if (idx?.modseq === modseq) return idx;
    const built = FolderFlags.parse(modseq, this.s.flagSnapshot.get(folderId) as string | null) ?? this.flagIndexSorted(folderId, modseq);
    this.flagIndexes.set(folderId, built);
    return built;
  }

  /** The index the slow way, for the day SQLite's group_concat stops following the subquery's order. */
  private flagIndexSorted(folderId: number, modseq: number): FolderFlags {
    const rows = this.s.plainRange.all(folderId, 0, 0xffffffff) as Row[];
    return new FolderFlags(modseq, rows.map((r) => ({ uid: r.uid as number, bits: r.flags as number, keywords: r.keywords as string, modseq: r.modseq as number })));
  }

  /**
   * For a write about to change a folder's messages (call inside its
   * transaction, before the change): null when no index is held, else a
   * function to call once the change is made, with the folder's new
   * HIGHESTMODSEQ and the change to the index. The index follows the write
   * after it commits if it still stood where the write began; else it is
   * dropped and rebuilt at its next use.
   */
  private indexTracker(folderId: number): ((after: number, apply: (idx: FolderFlags) => void) => void) | null {
    const idx = this.flagIndexes.get(folderId);
    if (!idx) return null;
    const before = this.s.highestModseq.get(folderId) as number;
    return (after, apply) =>
      this.ctx.afterCommit(() => {
        if (this.flagIndexes.get(folderId) !== idx) return;
        if (idx.modseq !== before) {
          this.flagIndexes.delete(folderId);
          return;
        }
        apply(idx);
        idx.modseq = after;
      });
  }

  get(folderId: number, uid: number): MessageMeta | null {
    const r = this.s.metaOne.get(folderId, uid) as Row | undefined;
    return r ? toMeta(r) : null;
  }

  changedSince(folderId: number, modseq: number): MessageMeta[] {
    return (this.s.changedSince.all(folderId, modseq) as Row[]).map(toMeta);
  }

  expungedSince(folderId: number, modseq: number): number[] {
    return this.s.expungedSince.all(folderId, modseq) as number[];
  }

  raw(blobId: number): Buffer {
    return this.s.raw.get(blobId) as Buffer;
  }

  /** The stored parse result (without the full-text fields). */
  parsed(blobId: number): Omit<ParsedMessage, 'headerText' | 'bodyText'> {
    return JSON.parse(this.s.parsed.get(blobId) as string);
  }

  /**
   * The stored envelope, or null if the blob is gone: from its own small
   * row (schema migration 6), or from the whole parse result for mail the
   * backfill has not reached yet.
   */
  envelope(blobId: number): Envelope | null {
    const text = this.s.envelope.get(blobId) as string | undefined;
    if (text !== undefined) return JSON.parse(text);
    const parsed = this.s.parsed.get(blobId) as string | undefined;
    return parsed === undefined ? null : (JSON.parse(parsed) as Stored).envelope;
  }

  /** Whether mail stored before the envelopes table is still waiting for its row. */
  envelopeBackfillPending(): boolean {
    return this.ctx.meta('envelope_backfill') > 0;
  }

  /** Copies up to `limit` envelopes of older mail into their table, newest first, in one write; whether any remain. */
  backfillEnvelopes(limit: number): boolean {
    return this.ctx.write(() => {
      const upTo = this.ctx.meta('envelope_backfill');
      if (upTo <= 0) return false;
      const rows = this.s.toCopy.all(upTo, limit) as { id: number; parsed: string }[];
      for (const r of rows) this.s.insertEnvelope.run(r.id, JSON.stringify((JSON.parse(r.parsed) as Stored).envelope));
      const next = rows.length < limit ? 0 : rows[rows.length - 1].id - 1;
      this.ctx.setMetaValue('envelope_backfill', next);
      return next > 0;
    });
  }

  /**
   * STORE: changes flags on the given UIDs. With unchangedSince (CONDSTORE),
   * messages modified after it are left alone and returned in `failed`.
   */
  storeFlags(
    folderId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts: { unchangedSince?: number; origin?: string } = {},
  ): { updated: MessageMeta[]; failed: number[] } {
    return this.ctx.write(() => this.storeFlagsInTx(folderId, uids, mode, flags, opts));
  }

  /**
   * storeFlags with its commit fsynced off the event loop (ctx.writeDeferred):
   * the change holds, and other sessions hear of it, once `durable` resolves.
   * For IMAP STORE, so many sessions' commits share the disk's flushes.
   */
  storeFlagsDeferred(
    folderId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts: { unchangedSince?: number; origin?: string } = {},
  ): { result: { updated: MessageMeta[]; failed: number[] }; durable: Promise<void> } {
    return this.ctx.writeDeferred(() => this.storeFlagsInTx(folderId, uids, mode, flags, opts));
  }

  private storeFlagsInTx(
    folderId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts: { unchangedSince?: number; origin?: string },
  ): { updated: MessageMeta[]; failed: number[] } {
    const { bits, keywords } = splitFlags(flags);
    const updated: MessageMeta[] = [];
    const failed: number[] = [];
    const track = this.indexTracker(folderId);
    const changes: [number, number, string][] = [];
    let modseq = 0;
    for (const uid of uids) {
      const r = this.s.metaOne.get(folderId, uid) as Row | undefined;
      if (!r) continue;
      if (opts.unchangedSince !== undefined && (r.modseq as number) > opts.unchangedSince) {
        failed.push(uid);
        continue;
      }
      const cur = r.flags as number;
      const next = mode === 'set' ? bits : mode === 'add' ? cur | bits : cur & ~bits;
      const kw = mergeKeywords(r.keywords as string, mode, keywords);
      if (next === cur && kw === r.keywords) continue;
      if (!modseq) modseq = this.ctx.nextModseq();
      this.s.setFlags.run(next, kw, modseq, folderId, uid);
      updated.push({ ...toMeta(r), flags: joinFlags(next, kw), modseq });
      changes.push([uid, next, kw]);
    }
    if (modseq) {
      this.s.touchFolder.run(modseq, folderId);
      track?.(modseq, (idx) => {
        for (const [uid, b, kw] of changes) idx.set(uid, b, kw, modseq);
      });
      this.ctx.emit({ type: 'flags', folderId, uids: updated.map((u) => u.uid), modseq, origin: opts.origin, stored: { mode, flags } });
    }
    return { updated, failed };
  }

  /** Removes the given UIDs (all of them, flagged or not), leaving tombstones. */
  remove(folderId: number, uids: number[], origin?: string): number[] {
    if (uids.length === 0) return [];
    return this.ctx.write(() => this.removeInTx(folderId, uids, origin));
  }

  private removeInTx(folderId: number, uids: number[], origin?: string): number[] {
    const track = this.indexTracker(folderId);
    const modseq = this.ctx.nextModseq();
    const gone: number[] = [];
    const blobs: number[] = [];
    for (const uid of uids) {
      const r = this.s.metaOne.get(folderId, uid) as Row | undefined;
      if (!r) continue;
      this.s.deleteMsg.run(folderId, uid);
      this.s.tombstone.run(folderId, uid, modseq);
      blobs.push(r.blob_id as number);
      gone.push(uid);
    }
    releaseBlobs(this.ctx, blobs);
    this.s.touchFolder.run(modseq, folderId);
    track?.(modseq, (idx) => idx.remove(gone));
    if (gone.length) this.ctx.emit({ type: 'expunge', folderId, uids: gone, modseq, origin });
    return gone;
  }

  /** EXPUNGE / UID EXPUNGE: removes messages flagged \Deleted (limited to `only` when given). */
  expunge(folderId: number, only?: number[], origin?: string): number[] {
    return this.ctx.write(() => this.expungeInTx(folderId, only, origin));
  }

  /** expunge with its commit fsynced off the event loop; done (and announced) once `durable` resolves. */
  expungeDeferred(folderId: number, only?: number[], origin?: string): { result: number[]; durable: Promise<void> } {
    return this.ctx.writeDeferred(() => this.expungeInTx(folderId, only, origin));
  }

  private expungeInTx(folderId: number, only: number[] | undefined, origin: string | undefined): number[] {
    let uids: number[];
    if (only && only.length < 64) {
      // UID EXPUNGE of a few: look each up instead of scanning the folder for \Deleted.
      uids = only.filter((u) => ((this.s.metaOne.get(folderId, u) as Row | undefined)?.flags as number) & 8);
    } else {
      uids = this.s.deletedUids.all(folderId) as number[];
      if (only) {
        const keep = new Set(only);
        uids = uids.filter((u) => keep.has(u));
      }
    }
    return uids.length ? this.removeInTx(folderId, uids, origin) : [];
  }

  /** COPY: new UIDs in the target, same blob. Returns [sourceUid, targetUid] pairs. */
  copy(fromFolder: number, uids: number[], toFolder: number, origin?: string): { uidValidity: number; pairs: [number, number][] } {
    return this.ctx.write(() => this.copyInTx(fromFolder, uids, toFolder, origin));
  }

  private copyInTx(fromFolder: number, uids: number[], toFolder: number, origin?: string): { uidValidity: number; pairs: [number, number][] } {
    const dst = this.folder(toFolder);
    const rows = uids.map((u) => this.s.metaOne.get(fromFolder, u) as Row | undefined).filter((r): r is Row => !!r);
    const pairs: [number, number][] = [];
    if (rows.length === 0) return { uidValidity: dst.uidValidity, pairs };
    const track = this.indexTracker(toFolder);
    const modseq = this.ctx.nextModseq();
    let uid = dst.uidnext;
    for (const r of rows) {
      this.s.ref.run(r.blob_id);
      this.s.insertMsg.run(toFolder, uid, r.blob_id, modseq, r.flags, r.keywords, r.internal_date, r.size);
      pairs.push([r.uid as number, uid++]);
    }
    this.s.bumpFolder.run(uid, modseq, toFolder);
    track?.(modseq, (idx) => idx.append(rows.map((r, i) => ({ uid: pairs[i][1], bits: r.flags as number, keywords: r.keywords as string, modseq }))));
    this.ctx.emit({ type: 'exists', folderId: toFolder, uids: pairs.map((p) => p[1]), modseq, origin, copiedFrom: fromFolder });
    return { uidValidity: dst.uidValidity, pairs };
  }

  /** MOVE: copy and remove in one transaction, so a crash leaves the message in exactly one place. */
  move(fromFolder: number, uids: number[], toFolder: number, origin?: string): { uidValidity: number; pairs: [number, number][] } {
    return this.ctx.write(() => {
      const res = this.copyInTx(fromFolder, uids, toFolder, origin);
      this.removeInTx(fromFolder, res.pairs.map((p) => p[0]), origin);
      return res;
    });
  }

  // ---- \Recent (RFC 3501 §2.3.2: a message is recent in exactly one session, the first to see the mailbox after it arrived)

  /**
   * Where the folder's unclaimed messages start: every UID from here up was
   * seen as recent by no session yet. Kept in the meta table under the
   * folder's id and UIDVALIDITY (never reused), so a recreated folder starts
   * afresh; missing means no session ever claimed any, so all are recent.
   */
  private recentKey(folderId: number): string | null {
    const r = this.s.folder.get(folderId) as Row | undefined;
    return r ? `recent:${folderId}:${r.uidvalidity as number}` : null;
  }

  /** The first unclaimed UID; for a folder that is gone, one past any UID (nothing is recent there). */
  recentFrom(folderId: number): number {
    const key = this.recentKey(folderId);
    return key === null ? Number.MAX_SAFE_INTEGER : ((this.s.recentGet.get(key) as number | undefined) ?? 1);
  }

  /**
   * Claims the folder's unclaimed messages below `upTo` for one session:
   * returns the first UID claimed (the range is [that, upTo)), or upTo when
   * there was none. Synchronous, so two sessions never claim the same UID;
   * the note is committed at once and fsynced off the event loop, as losing
   * it in a crash only shows a message as recent once more.
   */
  claimRecent(folderId: number, upTo: number): number {
    const key = this.recentKey(folderId);
    // Gone (deleted by another session before this one heard of its new mail): nothing to claim.
    if (key === null) return upTo;
    const from = (this.s.recentGet.get(key) as number | undefined) ?? 1;
    if (from >= upTo) return upTo;
    try {
      const { durable } = this.ctx.writeDeferred(() => this.s.recentSet.run(key, upTo));
      durable.catch(() => {}); // a lost note costs a repeated \Recent, never mail
    } catch {
      // Not noted (disk full): claim nothing, so no two sessions can both see these as recent.
      // This runs inside change delivery, where a throw would reach the writer of the change.
      return upTo;
    }
    return from;
  }

  /** How many of the folder's messages have a UID of at least `uid`. */
  countFrom(folderId: number, uid: number): number {
    return this.s.countFrom.get(folderId, uid) as number;
  }

  // ---- POP3

  /**
   * The POP3 maildrop: INBOX messages not hidden from POP3, with blobId so
   * RETR reads raw bytes directly (get() would read each blob once more for thread_id).
   */
  pop3List(folderId: number): { uid: number; size: number; blobId: number }[] {
    return this.s.pop3List.all(folderId) as { uid: number; size: number; blobId: number }[];
  }

  /** POP3 UPDATE state: all deletions in one transaction (delete for good, or hide in keep mode). */
  pop3Commit(folderId: number, uids: number[], keep: boolean): void {
    if (uids.length === 0) return;
    if (!keep) {
      this.remove(folderId, uids);
      return;
    }
    this.ctx.write(() => {
      for (const uid of uids) this.s.pop3Hide.run(folderId, uid);
    });
  }

  isDeleted(meta: MessageMeta): boolean {
    return meta.flags.includes('\\Deleted') || false;
  }
}

export { DELETED };
