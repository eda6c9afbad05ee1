/**
 * @module node/imap/parse-search
 * The search grammar (RFC 9051 §6.4.4, RFC 3501 §6.4.4's RECENT/NEW/OLD,
 * ESEARCH's RETURN options from RFC 4731, CONDSTORE's MODSEQ key from RFC
 * 7162 §3.1.5, WITHIN's OLDER/YOUNGER from RFC 5032) and the commands built
 * on it: SEARCH, SORT (RFC 5256 §3, DISPLAY keys from RFC 5957) and THREAD.
 */
import { ImapError } from './errors.js';
import { bad, MAX_DEPTH, type Cursor } from './cursor.js';
import type { Command } from './parse.js';
import type { SeqSet } from './seqset.js';

export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'flag'; flag: string; set: boolean }
  | { op: 'seq' | 'uid'; set: SeqSet }
  | { op: 'date'; field: 'internal' | 'sent'; cmp: 'before' | 'on' | 'since'; day: number }
  | { op: 'within'; older: boolean; seconds: number }
  | { op: 'size'; larger: boolean; n: number }
  | { op: 'header'; field: string; value: string }
  | { op: 'text'; body: boolean; value: string }
  | { op: 'modseq'; modseq: number }
  | { op: 'recent' }
  | { op: 'none' };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true], DELETED: ['\\Deleted', true], DRAFT: ['\\Draft', true], FLAGGED: ['\\Flagged', true], SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false], UNDELETED: ['\\Deleted', false], UNDRAFT: ['\\Draft', false], UNFLAGGED: ['\\Flagged', false], UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS = new Set(['BCC', 'CC', 'FROM', 'SUBJECT', 'TO']);
const DATE_KEYS: Record<string, [ 'internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'], ON: ['internal', 'on'], SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'], SENTON: ['sent', 'on'], SENTSINCE: ['sent', 'since'],
};

export function searchKey(c: Cursor): SearchKey {
  if (c.peek() === '(') {
    if (++c.depth > MAX_DEPTH) bad('search nesting too deep');
    c.expect('(');
    const keys = [searchKey(c)];
    while (c.take(' ')) keys.push(searchKey(c));
    c.expect(')');
    c.depth--;
    return keys.length === 1 ? keys[0] : { op: 'and', keys };
  }
  if (/[\d*$]/.test(c.peek())) return { op: 'seq', set: c.seqSet() };
  const k = c.atom('search key').toUpperCase();
  if (k === 'ALL') return { op: 'all' };
  // RFC 3501 §6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT.
  if (k === 'RECENT') return { op: 'recent' };
  if (k === 'NEW') return { op: 'and', keys: [{ op: 'recent' }, { op: 'flag', flag: '\\Seen', set: false }] };
  if (k === 'OLD') return { op: 'not', key: { op: 'recent' } };
  if (FLAG_KEYS[k]) return { op: 'flag', flag: FLAG_KEYS[k][0], set: FLAG_KEYS[k][1] };
  c.sp();
  if (k === 'NOT') {
    if (++c.depth > MAX_DEPTH) bad('search nesting too deep');
    const key = searchKey(c);
    c.depth--;
    return { op: 'not', key };
  }
  if (k === 'OR') {
    if (++c.depth > MAX_DEPTH) bad('search nesting too deep');
    const a = searchKey(c);
    c.sp();
    const b = searchKey(c);
    c.depth--;
    return { op: 'or', a, b };
  }
  if (k === 'KEYWORD' || k === 'UNKEYWORD') return { op: 'flag', flag: c.atom('keyword'), set: k === 'KEYWORD' };
  if (HEADER_KEYS.has(k)) return { op: 'header', field: k.toLowerCase(), value: c.astring() };
  if (k === 'HEADER') {
    const field = c.astring().toLowerCase();
    c.sp();
    return { op: 'header', field, value: c.astring() };
  }
  if (k === 'BODY' || k === 'TEXT') return { op: 'text', body: k === 'BODY', value: c.astring() };
  if (DATE_KEYS[k]) return { op: 'date', field: DATE_KEYS[k][0], cmp: DATE_KEYS[k][1], day: c.date() };
  if (k === 'LARGER' || k === 'SMALLER') return { op: 'size', larger: k === 'LARGER', n: c.number('size') };
  if (k === 'UID') return { op: 'uid', set: c.seqSet() };
  if (k === 'OLDER' || k === 'YOUNGER') return { op: 'within', older: k === 'OLDER', seconds: c.nzNumber('interval') };
  if (k === 'MODSEQ') {
    if (c.peek() === '"') {
      c.quoted();
      c.sp();
      c.atom('entry type');
      c.sp();
    }
    return { op: 'modseq', modseq: c.modseq() };
  }
  bad(`unknown search key ${k}`);
}

function searchProgram(c: Cursor): SearchKey {
  const keys = [searchKey(c)];
  while (c.take(' ')) keys.push(searchKey(c));
  return keys.length === 1 ? keys[0] : { op: 'and', keys };
}

function charset(c: Cursor): void {
  const cs = c.astring().toUpperCase();
  if (cs !== 'UTF-8' && cs !== 'US-ASCII') throw new ImapError('NO', 'BADCHARSET (UTF-8 US-ASCII)', `charset ${cs} is not supported; use UTF-8`);
}

function searchReturn(c: Cursor): string[] | null {
  if (!c.takeCi('RETURN ')) return null;
  const r = c.list(() => {
    const o = c.atom('return option').toUpperCase();
    if (!['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'].includes(o)) bad(`unknown SEARCH return option ${o}`);
    return o;
  });
  c.sp();
  return r.length ? r : ['ALL'];
}

export function parseSearch(c: Cursor, tag: string): Extract<Command, { name: 'SEARCH' }> {
  c.sp();
  const returns = searchReturn(c);
  if (c.takeCi('CHARSET ')) {
    charset(c);
    c.sp();
  }
  return { tag, name: 'SEARCH', returns, key: searchProgram(c) };
}

const SORT_KEYS = new Set(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);
export function parseSort(c: Cursor, tag: string): Extract<Command, { name: 'SORT' }> {
  c.sp();
  const returns = searchReturn(c);
  let reverse = false;
  const criteria = c.list(() => {
    const k = c.atom('sort key').toUpperCase();
    if (k === 'REVERSE') {
      reverse = true;
      c.sp();
      const k2 = c.atom('sort key').toUpperCase();
      if (!SORT_KEYS.has(k2)) bad(`unknown sort key ${k2}`);
      reverse = false;
      return { key: k2, reverse: true };
    }
    if (!SORT_KEYS.has(k)) bad(`unknown sort key ${k}`);
    return { key: k, reverse };
  }, false);
  c.sp();
  charset(c);
  c.sp();
  return { tag, name: 'SORT', returns, criteria, key: searchProgram(c) };
}

export function parseThread(c: Cursor, tag: string): Extract<Command, { name: 'THREAD' }> {
  c.sp();
  const algorithm = c.atom('algorithm').toUpperCase();
  if (algorithm !== 'REFERENCES' && algorithm !== 'ORDEREDSUBJECT') bad(`unknown THREAD algorithm ${algorithm}; use REFERENCES or ORDEREDSUBJECT`);
  c.sp();
  charset(c);
  c.sp();
  return { tag, name: 'THREAD', algorithm, key: searchProgram(c) };
}
