/**
 * @module node/imap/search-flags
 * SEARCH programs made only of keys the folder's in-memory flag index can
 * answer — flags and keywords, ALL, sequence and UID sets (SEARCHRES `$`
 * too), MODSEQ, and \Recent (NEW, OLD) as this session holds it — compiled
 * once into a predicate and run over the view without reading a row. A mail
 * client's `UID SEARCH UNSEEN` on every folder open is the common case; the
 * row path read every message (and its thread id) to answer it.
 *
 * The semantics are the row path's (search-eval.ts), key for key (RFC 9051
 * §6.4.4; RFC 3501 §6.4.4 for RECENT, NEW, OLD; RFC 7162 §3.1.5 for
 * MODSEQ): a message the view still shows but the store no longer holds
 * (expunged, not yet announced) matches nothing, NOT included.
 */
import { flagBit, type FlagReader } from '../store/index.js';
import type { SearchKey } from './parse.js';
import type { Selected } from './selected.js';
import { inRanges, resolveRanges, type SeqSet } from './seqset.js';

/** One message as the flag index knows it. */
type Pred = (uid: number, seq: number, bits: number, keywords: string, modseq: number) => boolean;

/** A match: the UID and the mod-sequence ESEARCH's MODSEQ reports. */
export interface SearchHit {
  uid: number;
  modseq: number;
}

/** Whether a keyword list ("a b c") holds `lower` (already lower-cased), ignoring case as IMAP does. */
function hasKeyword(keywords: string, lower: string): boolean {
  if (!keywords) return false;
  for (const k of keywords.split(' ')) if (k.toLowerCase() === lower) return true;
  return false;
}

/**
 * The program as a predicate over flag-index entries, or null when any key
 * needs the message itself (size, dates, headers, text). `count` and
 * `lastUid` are the view's, fixed for the command, as `*` resolves in them.
 */
export function compileFlagProgram(k: SearchKey, sel: Selected, count: number, lastUid: number): Pred | null {
  const inSet = (set: SeqSet, uidSet: boolean): ((uid: number, seq: number) => boolean) => {
    if (set.kind === 'saved') {
      // `$` holds UIDs whether it stands as a sequence set or a UID set (RFC 5182 §2.1).
      const saved = new Set(sel.saved);
      return (uid) => saved.has(uid);
    }
    const ranges = resolveRanges(set.ranges, uidSet ? lastUid : count);
    return uidSet ? (uid) => inRanges(ranges, uid) : (_uid, seq) => inRanges(ranges, seq);
  };
  switch (k.op) {
    case 'all': return () => true;
    case 'none': return () => false;
    case 'and': {
      const parts: Pred[] = [];
      for (const x of k.keys) {
        const p = compileFlagProgram(x, sel, count, lastUid);
        if (!p) return null;
        parts.push(p);
      }
      if (parts.length === 1) return parts[0];
      if (parts.length === 2) {
        const [a, b] = parts;
        return (u, q, f, w, m) => a(u, q, f, w, m) && b(u, q, f, w, m);
      }
      return (u, q, f, w, m) => parts.every((p) => p(u, q, f, w, m));
    }
    case 'or': {
      const a = compileFlagProgram(k.a, sel, count, lastUid);
      const b = a && compileFlagProgram(k.b, sel, count, lastUid);
      return a && b ? (u, q, f, w, m) => a(u, q, f, w, m) || b(u, q, f, w, m) : null;
    }
    case 'not': {
      const a = compileFlagProgram(k.key, sel, count, lastUid);
      return a ? (u, q, f, w, m) => !a(u, q, f, w, m) : null;
    }
    case 'flag': {
      const bit = flagBit(k.flag);
      const want = k.set;
      if (bit) return (_u, _q, f) => ((f & bit) !== 0) === want;
      // A backslash name with no bit (none the parser makes) is never stored: no message has it.
      if (k.flag.startsWith('\\')) return () => !want;
      const lower = k.flag.toLowerCase();
      return (_u, _q, _f, w) => hasKeyword(w, lower) === want;
    }
    case 'seq': {
      const test = inSet(k.set, false);
      return (u, q) => test(u, q);
    }
    case 'uid': {
      const test = inSet(k.set, true);
      return (u, q) => test(u, q);
    }
    case 'modseq': {
      const floor = k.modseq;
      return (_u, _q, _f, _w, m) => m >= floor;
    }
    // The session's own claim (RFC 3501 §2.3.2); an IMAP4rev2 session holds none.
    case 'recent': return (u) => sel.isRecent(u);
    default: return null;
  }
}

/** Runs a compiled program over the view (UIDs in sequence order), skipping UIDs the index no longer has. */
export function runFlagProgram(pred: Pred, view: Uint32Array, index: FlagReader): SearchHit[] {
  const out: SearchHit[] = [];
  for (let i = 0; i < view.length; i++) {
    const uid = view[i];
    const bits = index.bitsOf(uid);
    if (bits < 0) continue;
    const modseq = index.modseqOf(uid);
    if (pred(uid, i + 1, bits, index.keywordsOf(uid), modseq)) out.push({ uid, modseq });
  }
  return out;
}
