/**
 * @module node/imap/search-eval
 * Evaluates a SEARCH program (RFC 9051 §6.4.4) against the selected view:
 * flags, sizes, dates and modseq from the message metadata; SENT* dates on
 * the Date header's own calendar day; header keys on the decoded fields
 * (address fields in their plain form too); TEXT and BODY through the
 * store's substring search (trigram index, scan for short strings). Every
 * string key is a case-insensitive substring match. A program of flag,
 * sequence, UID, MODSEQ and RECENT keys alone is answered from the folder's
 * in-memory flag index (search-flags.ts) without reading a row.
 */
import { fieldTexts, parseSentDate, scanHeader, type ParsedMessage } from '../mime/index.js';
import { MIN_INDEXED_CHARS, type MessageMeta, type TextScope } from '../store/index.js';
import type { SearchKey } from './parse.js';
import type { MailPort } from './port.js';
import type { Selected } from './selected.js';
import { compileFlagProgram, runFlagProgram, type SearchHit } from './search-flags.js';
import { inRanges, resolveRanges, type SeqSet } from './seqset.js';

const DAY = 86_400_000;
type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;
type Meta = Omit<MessageMeta, 'threadId'>;

export class SearchEval {
  private readonly parsedCache = new Map<number, Stored>();
  private readonly textCache = new Map<string, Set<number>>();
  /** The view's size and last UID, fixed for the command (the view changes only between commands). */
  private readonly count: number;
  private readonly lastUid: number;
  private readonly now = Date.now();

  constructor(
    private readonly port: MailPort,
    private readonly sel: Selected,
  ) {
    const view = sel.uids;
    this.count = view.length;
    this.lastUid = view.length ? view[view.length - 1] : 0;
  }

  /** The messages in the view matching `key`, ascending by UID. */
  run(key: SearchKey): SearchHit[] {
    const pred = compileFlagProgram(key, this.sel, this.count, this.lastUid);
    if (pred) return runFlagProgram(pred, this.sel.uids, this.port.messages.flagLookup(this.sel.folderId));
    return this.runRows(key);
  }

  /** run, reading each message's row: for programs with any key the flag index cannot answer. */
  runRows(key: SearchKey): Meta[] {
    const view = this.sel.uids;
    if (!view.length) return [];
    const cand = this.candidates(key);
    if (cand && cand.size * 2 < view.length) {
      // The index already ruled out most of the mailbox: read only the messages it left.
      const out: Meta[] = [];
      for (const uid of view) {
        if (!cand.has(uid)) continue;
        const m = this.port.messages.get(this.sel.folderId, uid);
        if (m && this.match(key, m)) out.push(m);
      }
      return out;
    }
    // No key here needs the thread id: the plain list spares a join per row.
    const metas = this.port.messages.listPlain(this.sel.folderId, view[0], view[view.length - 1]);
    // Both ascend by UID: one walk keeps what the client can see.
    let k = 0;
    return metas.filter((m) => {
      while (k < view.length && view[k] < m.uid) k++;
      return view[k] === m.uid && this.match(key, m);
    });
  }

  /** Whether the program uses MODSEQ (then ESEARCH/SEARCH report the highest one). */
  static usesModseq(k: SearchKey): boolean {
    if (k.op === 'modseq') return true;
    if (k.op === 'and') return k.keys.some(SearchEval.usesModseq);
    if (k.op === 'or') return SearchEval.usesModseq(k.a) || SearchEval.usesModseq(k.b);
    if (k.op === 'not') return SearchEval.usesModseq(k.key);
    return false;
  }

  private parsed(m: Meta): Stored {
    let p = this.parsedCache.get(m.blobId);
    if (!p) this.parsedCache.set(m.blobId, (p = this.port.messages.parsed(m.blobId)));
    return p;
  }

  private inSet(set: SeqSet, n: number, uid: boolean): boolean {
    if (set.kind === 'saved') return this.sel.saved.includes(n);
    const max = uid ? this.lastUid : this.count;
    return inRanges(resolveRanges(set.ranges, max), n);
  }

  private match(k: SearchKey, m: Meta): boolean {
    switch (k.op) {
      case 'all': return true;
      case 'none': return false;
      case 'and': return k.keys.every((x) => this.match(x, m));
      case 'or': return this.match(k.a, m) || this.match(k.b, m);
      case 'not': return !this.match(k.key, m);
      case 'flag': return m.flags.some((f) => f.toLowerCase() === k.flag.toLowerCase()) === k.set;
      case 'seq': return k.set.kind === 'saved' ? this.sel.saved.includes(m.uid) : this.inSet(k.set, this.sel.seqOf(m.uid), false);
      case 'uid': return this.inSet(k.set, m.uid, true);
      case 'size': return k.larger ? m.size > k.n : m.size < k.n;
      case 'modseq': return m.modseq >= k.modseq;
      case 'recent': return this.sel.isRecent(m.uid); // none for an IMAP4rev2 session, which never claims any
      case 'within': return k.older ? this.now - m.internalDate >= k.seconds * 1000 : this.now - m.internalDate <= k.seconds * 1000;
      case 'date': {
        let day: number | null;
        if (k.field === 'internal') day = Math.floor(m.internalDate / DAY) * DAY;
        // RFC 9051 §6.4.4: the Date header's date "disregarding time and timezone", the day as written.
        else day = parseSentDate(this.parsed(m).envelope.date)?.day ?? null;
        if (day === null) return false;
        return k.cmp === 'before' ? day < k.day : k.cmp === 'on' ? day === k.day : day >= k.day;
      }
      case 'header': return this.header(k.field, k.value, m);
      case 'text': return this.text(k, m);
    }
  }

  /**
   * The UIDs a program can match at most, from the keys the trigram index
   * answers (a superset for header keys); null when no such key constrains it.
   */
  private candidates(k: SearchKey): Set<number> | null {
    switch (k.op) {
      case 'text': return [...k.value].length >= MIN_INDEXED_CHARS ? this.matches(k.value, k.body ? 'body' : 'text') : null;
      case 'header': return [...k.value].length >= MIN_INDEXED_CHARS ? this.matches(k.value, 'headers') : null;
      case 'and': {
        let best: Set<number> | null = null;
        for (const x of k.keys) {
          const c = this.candidates(x);
          if (c && (!best || c.size < best.size)) best = c;
        }
        return best;
      }
      case 'or': {
        const a = this.candidates(k.a);
        const b = a && this.candidates(k.b);
        return a && b ? new Set([...a, ...b]) : null;
      }
      default: return null;
    }
  }

  /** UIDs whose `scope` contains `value`, asked of the store once per command. */
  private matches(value: string, scope: TextScope): Set<number> {
    const key = scope + '\0' + value;
    let set = this.textCache.get(key);
    if (!set) this.textCache.set(key, (set = this.port.search.matchText(this.sel.folderId, value, scope)));
    return set;
  }

  /**
   * RFC 9051 §6.4.4: the named field contains the string; "" matches every
   * message that has the field at all. The header index narrows the messages
   * read when the string is long enough to look up.
   */
  private header(field: string, value: string, m: Meta): boolean {
    if ([...value].length >= MIN_INDEXED_CHARS && !this.matches(value, 'headers').has(m.uid)) return false;
    const raw = this.port.messages.raw(m.blobId);
    const fields = scanHeader(raw, 0, raw.length).fields.filter((f) => f.name === field);
    if (fields.length === 0) return false;
    if (value === '') return true;
    const v = value.toLowerCase();
    return fields.some((f) => fieldTexts(raw, f).some((t) => t.toLowerCase().includes(v)));
  }

  private text(k: Extract<SearchKey, { op: 'text' }>, m: Meta): boolean {
    return this.matches(k.value, k.body ? 'body' : 'text').has(m.uid);
  }
}
