/**
 * @module node/imap/search-eval
 * Evaluates a SEARCH program (RFC 9051 §6.4.4) against the selected view:
 * flags, sizes, dates and modseq from the message metadata; address and
 * subject keys from the stored envelope; TEXT and BODY through the FTS5
 * index, with a byte scan only for a query the index cannot take.
 */
import { headerString } from '../mime/bytes.js';
import { scanHeader } from '../mime/header.js';
import { decodeWords } from '../mime/words.js';
import type { Address, ParsedMessage } from '../mime/index.js';
import type { MessageMeta } from '../store/index.js';
import type { SearchKey } from './parse.js';
import type { MailPort } from './port.js';
import type { Selected } from './selected.js';
import { inRanges, resolveRanges, type SeqSet } from './seqset.js';

const DAY = 86_400_000;
type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;

function addrText(list: Address[]): string {
  return (list ?? []).map((a) => `${a.name ?? ''} <${a.mailbox ?? ''}@${a.host ?? ''}>`).join(', ');
}

export class SearchEval {
  private readonly parsedCache = new Map<number, Stored>();
  private readonly textCache = new Map<SearchKey, Set<number>>();
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

  /** UIDs in the view matching `key`, ascending. */
  run(key: SearchKey): MessageMeta[] {
    const metas = this.port.messages.list(this.sel.folderId);
    // Both ascend by UID: one walk keeps what the client can see.
    const view = this.sel.uids;
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

  private parsed(m: MessageMeta): Stored {
    let p = this.parsedCache.get(m.blobId);
    if (!p) this.parsedCache.set(m.blobId, (p = this.port.messages.parsed(m.blobId)));
    return p;
  }

  private inSet(set: SeqSet, n: number, uid: boolean): boolean {
    if (set.kind === 'saved') return this.sel.saved.includes(n);
    const max = uid ? this.lastUid : this.count;
    return inRanges(resolveRanges(set.ranges, max), n);
  }

  private match(k: SearchKey, m: MessageMeta): boolean {
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
        const t = k.field === 'internal' ? m.internalDate : this.parsed(m).sentAt;
        if (t === null || t === undefined) return false;
        const day = Math.floor(t / DAY) * DAY;
        return k.cmp === 'before' ? day < k.day : k.cmp === 'on' ? day === k.day : day >= k.day;
      }
      case 'header': return this.header(k.field, k.value, m);
      case 'text': return this.text(k, m);
    }
  }

  private header(field: string, value: string, m: MessageMeta): boolean {
    const v = value.toLowerCase();
    const e = this.parsed(m).envelope;
    let hay: string | null;
    switch (field) {
      case 'subject': hay = e.subject === null ? null : decodeWords(e.subject); break;
      case 'from': hay = addrText(e.from); break;
      case 'to': hay = addrText(e.to); break;
      case 'cc': hay = addrText(e.cc); break;
      case 'bcc': hay = addrText(e.bcc); break;
      default: {
        const raw = this.port.messages.raw(m.blobId);
        const root = this.parsed(m).structure;
        const fields = scanHeader(raw, 0, root.bodyStart).fields.filter((f) => f.name === field);
        if (!fields.length) return false;
        hay = fields.map((f) => decodeWords(headerString(raw, f.valueStart, f.end).replace(/\r?\n/g, ''))).join('\n');
      }
    }
    if (hay === null) return false;
    return hay.toLowerCase().includes(v);
  }

  private text(k: Extract<SearchKey, { op: 'text' }>, m: MessageMeta): boolean {
    let set = this.textCache.get(k);
    if (!set) {
      set = this.port.search.matchText(this.sel.folderId, k.value, k.body) ?? undefined;
      if (set) this.textCache.set(k, set);
    }
    if (set) return set.has(m.uid);
    // Nothing indexable in the query (punctuation only): look at the bytes.
    const raw = this.port.messages.raw(m.blobId);
    const from = k.body ? this.parsed(m).structure.bodyStart : 0;
    return raw.subarray(from).toString('utf8').toLowerCase().includes(k.value.toLowerCase());
  }
}
