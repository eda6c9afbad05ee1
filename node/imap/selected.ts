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
  /** UIDs in sequence order, as the client knows them. */
  uids: number[];
  readonly pendingNew: number[] = [];
  readonly pendingExpunge = new Set<number>();
  readonly pendingFlags = new Set<number>();
  /** SEARCHRES: the UIDs the last SEARCH RETURN (SAVE) stored. */
  saved: number[] = [];

  constructor(
    readonly folderId: number,
    readonly name: string,
    readonly readOnly: boolean,
    readonly uidValidity: number,
    uids: number[],
  ) {
    this.uids = uids;
  }

  get lastUid(): number {
    const p = this.pendingNew[this.pendingNew.length - 1];
    return p ?? this.uids[this.uids.length - 1] ?? 0;
  }

  /** Index of the first UID >= uid in the view. */
  private lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.uids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.uids[mid] < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** 1-based sequence number of a UID in the client's view, or 0. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid];
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** The UIDs a set names, in ascending order; sequence numbers past the end are a client error. */
  resolve(set: SeqSet, uid: boolean): number[] {
    if (set.kind === 'saved') {
      const have = new Set(this.uids);
      return this.saved.filter((u) => have.has(u));
    }
    if (uid) {
      if (!this.uids.length) return [];
      // Ranges come back sorted and merged: walk each from its first UID, found by bisection.
      const out: number[] = [];
      for (const [a, b] of resolveRanges(set.ranges, this.uids[this.uids.length - 1])) {
        for (let i = this.lowerBound(a); i < this.uids.length && this.uids[i] <= b; i++) out.push(this.uids[i]);
      }
      return out;
    }
    const r = resolveRanges(set.ranges, this.uids.length);
    const out: number[] = [];
    for (const [a, b] of r) {
      if (b > this.uids.length) throw new ImapError('BAD', null, `message ${b} does not exist; there are ${this.uids.length} messages`);
      for (let i = a; i <= b; i++) out.push(this.uids[i - 1]);
    }
    return out;
  }

  /** Removes expunged UIDs from the view; returns their sequence numbers at removal time, in order. */
  remove(uids: Iterable<number>): number[] {
    const gone = new Set(uids);
    // Highest first keeps each number valid when it is sent.
    let seqs: number[];
    if (gone.size * 32 < this.uids.length) {
      // A few messages out of many: find each by bisection rather than scanning the view.
      seqs = [...gone].map((u) => this.seqOf(u)).filter((n) => n > 0).sort((a, b) => b - a);
      for (const n of seqs) this.uids.splice(n - 1, 1);
    } else {
      seqs = [];
      for (let i = this.uids.length - 1; i >= 0; i--) if (gone.has(this.uids[i])) seqs.push(i + 1);
      this.uids = this.uids.filter((u) => !gone.has(u));
    }
    for (const u of gone) {
      this.pendingFlags.delete(u);
      this.pendingExpunge.delete(u);
    }
    return seqs;
  }
}
