/**
 * @module node/imap/selected
 * The selected mailbox as this client sees it: the sequence-number-to-UID
 * map, and changes from other sessions waiting for a moment the RFC allows
 * them to be told (RFC 9051 §7.4.1, §5.5: no EXPUNGE during FETCH, STORE or
 * SEARCH; at once under IDLE).
 */
import { ImapError } from './errors.js';
import { resolveRanges, type SeqSet } from './seqset.js';

export class Selected {
  /** The view's UIDs in buf[0..n); spare room past n absorbs new mail without reallocating. */
  private buf: Uint32Array;
  private n: number;
  readonly pendingNew: number[] = [];
  readonly pendingExpunge = new Set<number>();
  readonly pendingFlags = new Set<number>();
  /** SEARCHRES: the UIDs the last SEARCH RETURN (SAVE) stored. */
  saved: number[] = [];
  /** RFC 3501 §2.3.2: the UIDs this session sees as \Recent, as ascending disjoint [from, to) ranges (a few per session). */
  private recent: [number, number][] = [];
  /** Keywords the client was told of in FLAGS, by lower-cased name (RFC 9051 §7.3.5); only grows. */
  readonly keywords = new Map<string, string>();
  /** The folder's keyword list last compared with `keywords`, and its size then: a list that has not grown holds no news. */
  private checkedNames: ReadonlyMap<string, string> | null = null;
  private checkedSize = 0;

  constructor(
    readonly folderId: number,
    readonly name: string,
    readonly readOnly: boolean,
    readonly uidValidity: number,
    uids: Uint32Array | readonly number[],
  ) {
    // A typed array, not a JS array: 50 sessions on 100,000 messages would hold 40 MB of heap, and every SELECT would put 800 KB straight into old space.
    this.buf = uids instanceof Uint32Array ? uids : Uint32Array.from(uids);
    this.n = uids.length;
  }

  /** Adds [from, to) to the UIDs this session sees as recent; ranges come in ascending order. */
  addRecent(from: number, to: number): void {
    if (from >= to) return;
    const last = this.recent[this.recent.length - 1];
    if (last && last[1] >= from) last[1] = Math.max(last[1], to);
    else this.recent.push([from, to]);
  }

  /** The lowest UID this session sees as recent (Infinity for none): below it, no lookup is needed. */
  get recentFloor(): number {
    return this.recent.length ? this.recent[0][0] : Infinity;
  }

  isRecent(uid: number): boolean {
    if (uid < this.recentFloor) return false;
    for (const [a, b] of this.recent) if (uid >= a && uid < b) return true;
    return false;
  }

  /** How many messages in the view are recent for this session. */
  get recentCount(): number {
    let n = 0;
    for (const [a, b] of this.recent) n += this.lowerBound(b) - this.lowerBound(a);
    return n;
  }

  /**
   * Takes in keywords (any flag not starting with a backslash); true if one
   * was new, and FLAGS must go out again before anything shows it.
   */
  learnKeywords(flags: Iterable<string>): boolean {
    let fresh = false;
    for (const f of flags) {
      if (f.startsWith('\\')) continue;
      const l = f.toLowerCase();
      if (this.keywords.has(l)) continue;
      this.keywords.set(l, f);
      fresh = true;
    }
    return fresh;
  }

  /** learnKeywords for the folder's list of keyword names, skipped when it has not grown since the last look. */
  learnFolderKeywords(names: ReadonlyMap<string, string>): boolean {
    if (names === this.checkedNames && names.size === this.checkedSize) return false;
    this.checkedNames = names;
    this.checkedSize = names.size;
    return this.learnKeywords(names.values());
  }

  /** UIDs in sequence order, as the client knows them: a view valid until the next change to the selection. */
  get uids(): Uint32Array {
    return this.buf.subarray(0, this.n);
  }

  get count(): number {
    return this.n;
  }

  get lastUid(): number {
    const p = this.pendingNew[this.pendingNew.length - 1];
    return p ?? (this.n ? this.buf[this.n - 1] : 0);
  }

  /** Index of the first UID >= uid in the view. */
  private lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.buf[mid] < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** 1-based sequence number of a UID in the client's view, or 0. */
  seqOf(uid: number): number {
    const i = this.lowerBound(uid);
    return i < this.n && this.buf[i] === uid ? i + 1 : 0;
  }

  /** Adds UIDs (higher than any in the view) at the end, as EXISTS announces them. */
  append(uids: readonly number[]): void {
    if (this.n + uids.length > this.buf.length) {
      const grown = new Uint32Array(Math.max(16, (this.n + uids.length) * 1.25) | 0);
      grown.set(this.buf.subarray(0, this.n));
      this.buf = grown;
    }
    this.buf.set(uids, this.n);
    this.n += uids.length;
  }

  /**
   * The parts of the view a set names, as [start, end) index spans, ascending
   * and disjoint; sequence numbers past the end are a client error. For a
   * command over a whole big mailbox this is two numbers, not 100,000 UIDs.
   */
  spans(set: SeqSet, uid: boolean): [number, number][] {
    const n = this.n;
    if (set.kind === 'saved') return this.saved.map((u) => this.seqOf(u)).filter((q) => q > 0).sort((a, b) => a - b).map((q) => [q - 1, q]);
    const out: [number, number][] = [];
    if (uid) {
      if (!n) return out;
      // Ranges come back sorted and merged: bisect for each end.
      for (const [a, b] of resolveRanges(set.ranges, this.buf[n - 1])) {
        const i = this.lowerBound(a);
        const j = this.lowerBound(b + 1);
        if (i < j) out.push([i, j]);
      }
      return out;
    }
    for (const [a, b] of resolveRanges(set.ranges, n)) {
      // a < 1 only for `*` in an empty mailbox.
      if (b > n || a < 1) throw new ImapError('BAD', null, `message ${b > n ? b : '*'} does not exist; there are ${n} messages`);
      out.push([a - 1, b]);
    }
    return out;
  }

  /** The UIDs in spans, ascending. */
  uidsIn(spans: [number, number][]): number[] {
    const out: number[] = [];
    for (const [i, j] of spans) for (let k = i; k < j; k++) out.push(this.buf[k]);
    return out;
  }

  /** The UIDs a set names, in ascending order; sequence numbers past the end are a client error. */
  resolve(set: SeqSet, uid: boolean): number[] {
    return this.uidsIn(this.spans(set, uid));
  }

  /**
   * Removes expunged UIDs from the view; returns their sequence numbers at
   * removal time, highest first. UIDs still waiting in pendingNew are dropped
   * there too: a message that came and went between two commands is never
   * announced, neither by EXISTS nor by EXPUNGE (RFC 9051 §7.4.1).
   */
  remove(uids: Iterable<number>): number[] {
    const gone = new Set(uids);
    const p = this.pendingNew;
    let kept = 0;
    for (const u of p) if (!gone.has(u)) p[kept++] = u;
    p.length = kept;
    const buf = this.buf;
    let seqs: number[];
    if (gone.size * 32 < this.n) {
      // A few messages out of many: find each by bisection and close its gap.
      seqs = [...gone].map((u) => this.seqOf(u)).filter((n) => n > 0).sort((a, b) => b - a);
      for (const s of seqs) buf.copyWithin(s - 1, s, this.n--);
    } else {
      seqs = [];
      let w = 0;
      for (let i = 0; i < this.n; i++) {
        if (gone.has(buf[i])) seqs.push(i + 1);
        else buf[w++] = buf[i];
      }
      this.n = w;
      seqs.reverse();
    }
    for (const u of gone) {
      this.pendingFlags.delete(u);
      this.pendingExpunge.delete(u);
    }
    return seqs;
  }
}
