/**
 * @module node/store/mailbox/flag-index
 * A folder's UIDs and flags held in memory, as Dovecot's index holds them:
 * SELECT copies the UIDs from here and a FETCH of flags reads them here,
 * instead of each passing over the whole folder in SQL (30 ms for 100,000
 * messages, most of it better-sqlite3 turning rows into values).
 *
 * Correctness rests on one number: the index carries the folder's
 * HIGHESTMODSEQ it reflects. Every change to a folder's messages moves that
 * number, so an index whose number differs from the folder row's is stale
 * (a write it was not told of: another process, a folder rename) and is
 * rebuilt. Writes made through MessageRepo update it after their commit, in
 * commit order, each checking that the index stood where the write began.
 * Typed arrays, 13 bytes a message; keywords (rare) in a map by UID, and
 * every keyword name the index has held (IMAP's FLAGS response must name a
 * keyword before any FETCH shows it, RFC 9051 §7.3.5).
 */
import { flagText } from './flags.js';

/** One message's entry, for building or extending an index. */
export interface FlagEntry {
  uid: number;
  bits: number;
  keywords: string;
  modseq: number;
}

export class FolderFlags {
  private uids: Uint32Array;
  private bits: Uint8Array;
  private modseqs: Float64Array;
  private n: number;
  /** Keyword names seen since the index was built, by lower-cased name; only grows, so a reader can tell news by its size. */
  private readonly names = new Map<string, string>();
  /** Keyword strings already taken apart: a big labelled folder repeats a few combinations many times. */
  private readonly noted = new Set<string>();

  constructor(
    /** The folder's HIGHESTMODSEQ this reflects. */
    public modseq: number,
    entries: readonly FlagEntry[] = [],
    private readonly keywords = new Map<number, string>(),
  ) {
    this.uids = new Uint32Array(0);
    this.bits = new Uint8Array(0);
    this.modseqs = new Float64Array(0);
    this.n = 0;
    this.append(entries);
  }

  /** Parses "uid bits modseq[ keywords]" rows joined by LF (ascending UIDs); null if they are not ascending. */
  static parse(modseq: number, packed: string | null): FolderFlags | null {
    const idx = new FolderFlags(modseq);
    if (!packed) return idx;
    let count = 1;
    for (let i = packed.indexOf('\n'); i !== -1; i = packed.indexOf('\n', i + 1)) count++;
    idx.grow(count);
    const { uids, bits, modseqs, keywords } = idx;
    const n = packed.length;
    let i = 0;
    for (let r = 0; r < count; r++) {
      let uid = 0;
      let b = 0;
      let m = 0;
      let c = 0;
      while ((c = packed.charCodeAt(i++)) !== 32) uid = uid * 10 + c - 48;
      while ((c = packed.charCodeAt(i++)) !== 32) b = b * 10 + c - 48;
      while (i < n && (c = packed.charCodeAt(i++)) !== 32 && c !== 10) m = m * 10 + c - 48;
      if (c === 32) {
        let j = packed.indexOf('\n', i);
        if (j < 0) j = n;
        const kw = packed.slice(i, j);
        keywords.set(uid, kw);
        idx.noteNames(kw);
        i = j + 1;
      }
      if (r && uid <= uids[r - 1]) return null;
      uids[r] = uid;
      bits[r] = b;
      modseqs[r] = m;
    }
    idx.n = count;
    return idx;
  }

  private noteNames(keywords: string): void {
    if (this.noted.has(keywords)) return;
    if (this.noted.size < 4096) this.noted.add(keywords);
    for (const k of keywords.split(' ')) {
      const l = k.toLowerCase();
      if (k && !this.names.has(l)) this.names.set(l, k);
    }
  }

  /** Every keyword in use in the folder (and some that were): keyed lower-case, first spelling kept. */
  keywordNames(): ReadonlyMap<string, string> {
    return this.names;
  }

  private grow(cap: number): void {
    if (cap <= this.uids.length) return;
    const uids = new Uint32Array(cap);
    const bits = new Uint8Array(cap);
    const modseqs = new Float64Array(cap);
    uids.set(this.uids.subarray(0, this.n));
    bits.set(this.bits.subarray(0, this.n));
    modseqs.set(this.modseqs.subarray(0, this.n));
    this.uids = uids;
    this.bits = bits;
    this.modseqs = modseqs;
  }

  /** A copy of the UIDs, ascending. */
  uidList(): Uint32Array {
    return this.uids.slice(0, this.n);
  }

  /** The message's flag names joined by spaces, or null if the folder has no such UID. */
  flags(uid: number): string | null {
    const i = this.indexOf(uid);
    return i < 0 ? null : flagText(this.bits[i], this.keywords.get(uid) ?? '');
  }

  /** The message's mod-sequence, or 0 if the folder has no such UID. */
  modseqOf(uid: number): number {
    const i = this.indexOf(uid);
    return i < 0 ? 0 : this.modseqs[i];
  }

  /** The message's system-flag bits, or -1 if the folder has no such UID (SEARCH's flag-only path). */
  bitsOf(uid: number): number {
    const i = this.indexOf(uid);
    return i < 0 ? -1 : this.bits[i];
  }

  /** The message's keywords joined by spaces, "" for none. */
  keywordsOf(uid: number): string {
    return this.keywords.get(uid) ?? '';
  }

  /** Where the last lookup found its UID: a FETCH asks in ascending order, so the next is usually one further on. */
  private hint = 0;

  private indexOf(uid: number): number {
    const h = this.hint;
    if (h < this.n && this.uids[h] === uid) return h;
    if (h + 1 < this.n && this.uids[h + 1] === uid) return (this.hint = h + 1);
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid];
      if (v === uid) return (this.hint = mid);
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** New messages, with UIDs above every UID here (as a folder assigns them). */
  append(entries: readonly FlagEntry[]): void {
    if (this.n + entries.length > this.uids.length) this.grow(Math.max(16, Math.ceil((this.n + entries.length) * 1.25)));
    for (const e of entries) {
      this.uids[this.n] = e.uid;
      this.bits[this.n] = e.bits;
      this.modseqs[this.n++] = e.modseq;
      if (e.keywords) {
        this.keywords.set(e.uid, e.keywords);
        this.noteNames(e.keywords);
      }
    }
  }

  set(uid: number, bits: number, keywords: string, modseq: number): void {
    const i = this.indexOf(uid);
    if (i < 0) return;
    this.bits[i] = bits;
    this.modseqs[i] = modseq;
    if (keywords) {
      this.keywords.set(uid, keywords);
      this.noteNames(keywords);
    } else this.keywords.delete(uid);
  }

  remove(gone: readonly number[]): void {
    if (gone.length * 32 < this.n) {
      // A few out of many: close each gap with a memmove rather than rewriting the arrays.
      for (const uid of gone) {
        const i = this.indexOf(uid);
        if (i < 0) continue;
        this.uids.copyWithin(i, i + 1, this.n);
        this.bits.copyWithin(i, i + 1, this.n);
        this.modseqs.copyWithin(i, i + 1, this.n);
        this.n--;
        this.keywords.delete(uid);
      }
      return;
    }
    const drop = new Set(gone);
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      const uid = this.uids[r];
      if (drop.has(uid)) {
        this.keywords.delete(uid);
        continue;
      }
      this.uids[w] = uid;
      this.modseqs[w] = this.modseqs[r];
      this.bits[w++] = this.bits[r];
    }
    this.n = w;
  }
}
