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
 * Typed arrays, 5 bytes a message; keywords (rare) in a map by UID.
 */
import { flagText } from './flags.js';

export class FolderFlags {
  private uids: Uint32Array;
  private bits: Uint8Array;
  private n: number;

  constructor(
    /** The folder's HIGHESTMODSEQ this reflects. */
    public modseq: number,
    uids: Uint32Array,
    bits: Uint8Array,
    private readonly keywords: Map<number, string>,
  ) {
    this.uids = uids;
    this.bits = bits;
    this.n = uids.length;
  }

  /** Parses "uid bits[ keywords]" rows joined by LF (ascending UIDs); null if they are not ascending. */
  static parse(modseq: number, packed: string | null): FolderFlags | null {
    if (!packed) return new FolderFlags(modseq, new Uint32Array(0), new Uint8Array(0), new Map());
    let count = 1;
    for (let i = packed.indexOf('\n'); i !== -1; i = packed.indexOf('\n', i + 1)) count++;
    const uids = new Uint32Array(count);
    const bits = new Uint8Array(count);
    const keywords = new Map<number, string>();
    const n = packed.length;
    let i = 0;
    for (let r = 0; r < count; r++) {
      let uid = 0;
      let b = 0;
      let c = 0;
      while ((c = packed.charCodeAt(i++)) !== 32) uid = uid * 10 + c - 48;
      while (i < n && (c = packed.charCodeAt(i++)) !== 32 && c !== 10) b = b * 10 + c - 48;
      if (c === 32) {
        let j = packed.indexOf('\n', i);
        if (j < 0) j = n;
        keywords.set(uid, packed.slice(i, j));
        i = j + 1;
      }
      if (r && uid <= uids[r - 1]) return null;
      uids[r] = uid;
      bits[r] = b;
    }
    return new FolderFlags(modseq, uids, bits, keywords);
  }

  get count(): number {
    return this.n;
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
  append(rows: readonly { uid: number; bits: number; keywords: string }[]): void {
    if (this.n + rows.length > this.uids.length) {
      const cap = Math.max(16, Math.ceil((this.n + rows.length) * 1.25));
      const uids = new Uint32Array(cap);
      const bits = new Uint8Array(cap);
      uids.set(this.uids.subarray(0, this.n));
      bits.set(this.bits.subarray(0, this.n));
      this.uids = uids;
      this.bits = bits;
    }
    for (const r of rows) {
      this.uids[this.n] = r.uid;
      this.bits[this.n++] = r.bits;
      if (r.keywords) this.keywords.set(r.uid, r.keywords);
    }
  }

  set(uid: number, bits: number, keywords: string): void {
    const i = this.indexOf(uid);
    if (i < 0) return;
    this.bits[i] = bits;
    if (keywords) this.keywords.set(uid, keywords);
    else this.keywords.delete(uid);
  }

  remove(gone: readonly number[]): void {
    if (gone.length * 32 < this.n) {
      // A few out of many: close each gap with a memmove rather than rewriting the arrays.
      for (const uid of gone) {
        const i = this.indexOf(uid);
        if (i < 0) continue;
        this.uids.copyWithin(i, i + 1, this.n);
        this.bits.copyWithin(i, i + 1, this.n);
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
      this.bits[w++] = this.bits[r];
    }
    this.n = w;
  }
}
