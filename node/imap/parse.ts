/**
 * @module node/imap/parse
 * A whole request (from the receiver) to a typed command. Pure and total:
 * anything malformed throws ImapError BAD, never anything else, so the
 * session can answer and carry on. A cursor over the request's parts, as in
 * mox's parse.go; one function per command family.
 */
import { ImapError } from './errors.js';
import type { Section } from '../mime/index.js';
import type { Part } from './receiver.js';
import { parseSeqSet, type SeqSet } from './seqset.js';

export type FetchAtt =
  | { kind: 'FLAGS' | 'UID' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'MODSEQ' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { kind: 'BODY[]' | 'BINARY[]'; peek: boolean; section: Section; partial?: { start: number; length: number } }
  | { kind: 'BINARY.SIZE'; section: Section };

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

export interface StatusItems {
  items: string[];
}
export interface ListReturn {
  subscribed: boolean;
  children: boolean;
  specialUse: boolean;
  status: string[] | null;
}
export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids?: SeqSet;
  seqMatch?: { seqs: SeqSet; uids: SeqSet };
}
export interface NotifyGroup {
  filter: 'SELECTED' | 'SELECTED-DELAYED' | 'INBOXES' | 'PERSONAL' | 'SUBSCRIBED' | 'SUBTREE' | 'MAILBOXES';
  /** SUBTREE and MAILBOXES: the mailboxes named. */
  mailboxes: string[];
  /** Event names as the RFC spells them (unknown ones as sent); empty for NONE. */
  events: string[];
  /** MessageNew's fetch attributes, if any. */
  fetch: FetchAtt[] | null;
}
export interface AppendMessage {
  flags: string[];
  date: number | null;
  data: Buffer;
  binary: boolean;
  /** RFC 6855 §4 `UTF8 (literal)`: a message with raw UTF-8 headers. */
  utf8?: boolean;
}

type Base = { tag: string; uid?: boolean };
export type Command = Base &
  (
    | { name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'EXPUNGE' | 'IDLE' | 'NAMESPACE' }
    | { name: 'LOGIN'; user: string; pass: string }
    | { name: 'AUTHENTICATE'; mechanism: string; initial: string | null }
    | { name: 'ENABLE'; caps: string[] }
    | { name: 'ID'; params: Record<string, string | null> | null }
    | { name: 'COMPRESS'; mechanism: string }
    | { name: 'SELECT' | 'EXAMINE'; mailbox: string; condstore: boolean; qresync: QresyncParams | null }
    | { name: 'CREATE'; mailbox: string; specialUse: string | null }
    | { name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; mailbox: string }
    | { name: 'RENAME'; from: string; to: string }
    | { name: 'LIST'; selection: string[]; ref: string; patterns: string[]; returns: ListReturn }
    | { name: 'LSUB'; ref: string; patterns: string[] }
    | { name: 'STATUS'; mailbox: string; items: string[] }
    | { name: 'APPEND'; mailbox: string; messages: AppendMessage[] }
    | { name: 'FETCH'; set: SeqSet; atts: FetchAtt[]; changedSince: number | null; vanished: boolean }
    | { name: 'STORE'; set: SeqSet; mode: 'set' | 'add' | 'remove'; silent: boolean; flags: string[]; unchangedSince: number | null }
    | { name: 'COPY' | 'MOVE'; set: SeqSet; mailbox: string }
    | { name: 'UIDEXPUNGE'; set: SeqSet }
    | { name: 'SEARCH'; returns: string[] | null; key: SearchKey }
    | { name: 'SORT'; returns: string[] | null; criteria: { key: string; reverse: boolean }[]; key: SearchKey }
    | { name: 'THREAD'; algorithm: 'REFERENCES' | 'ORDEREDSUBJECT'; key: SearchKey }
    | { name: 'GETQUOTA' | 'GETQUOTAROOT'; root: string }
    | { name: 'SETQUOTA'; root: string }
    | { name: 'NOTIFY'; set: { status: boolean; groups: NotifyGroup[] } | null }
  );
export type CommandName = Command['name'];

const MAX_DEPTH = 32;
const ATOM_SPECIALS = /[(){ %*"\\\]\x00-\x1f\x7f]/;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function bad(text: string): never {
  throw new ImapError('BAD', null, text);
}

/** A cursor over line segments and literals. */
export class Cursor {
  private i = 0;
  private pos = 0;
  depth = 0;
  constructor(private readonly parts: Part[]) {}

  private get seg(): string {
    const p = this.parts[this.i];
    return typeof p === 'string' ? p : '';
  }
  /** Whether a literal sits at the cursor. */
  atLiteral(): boolean {
    return this.pos >= this.seg.length && this.i + 1 < this.parts.length && typeof this.parts[this.i + 1] !== 'string';
  }
  peek(): string {
    return this.seg[this.pos] ?? '';
  }
  atEnd(): boolean {
    return this.pos >= this.seg.length && this.i >= this.parts.length - 1;
  }
  end(): void {
    if (!this.atEnd()) bad(`unexpected text at "${this.seg.slice(this.pos, this.pos + 20)}"; check the command's syntax`);
  }
  take(s: string): boolean {
    if (this.seg.startsWith(s, this.pos)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }
  /** Whether the text at the cursor starts with `s` (no move). */
  lookingAt(s: string): boolean {
    return this.seg.startsWith(s, this.pos);
  }
  takeCi(s: string): boolean {
    if (this.seg.slice(this.pos, this.pos + s.length).toUpperCase() === s.toUpperCase()) {
      this.pos += s.length;
      return true;
    }
    return false;
  }
  expect(s: string): void {
    if (!this.take(s)) bad(`expected "${s}"${this.peek() ? ` at "${this.seg.slice(this.pos, this.pos + 20)}"` : ' before the end of the line'}`);
  }
  sp(): void {
    this.expect(' ');
  }
  /** Reads a literal (after its segment ended); returns whether it was a binary `~{n}` literal. */
  literal(): { data: Buffer; binary: boolean } {
    const seg = this.seg;
    const binary = seg.endsWith('~') && this.pos === seg.length - 1;
    if (binary) this.pos++;
    if (!this.atLiteral()) bad('expected a literal');
    const data = this.parts[this.i + 1] as Buffer;
    this.i += 2;
    this.pos = 0;
    return { data, binary };
  }
  atom(what = 'atom'): string {
    const seg = this.seg;
    let j = this.pos;
    while (j < seg.length && !ATOM_SPECIALS.test(seg[j])) j++;
    if (j === this.pos) bad(`expected ${what}`);
    const s = seg.slice(this.pos, j);
    this.pos = j;
    return s;
  }
  /** Letters, digits, dots and hyphens (fetch item names stop at `[`). */
  word(what: string): string {
    const m = /^[A-Za-z0-9.\-]+/.exec(this.seg.slice(this.pos, this.pos + 64));
    if (!m) bad(`expected ${what}`);
    this.pos += m[0].length;
    return m[0];
  }
  /** An atom that may contain `]` (flags and section-free atoms use plain atom). */
  astringChars(): string {
    const seg = this.seg;
    let j = this.pos;
    while (j < seg.length && !/[(){ %*"\\\x00-\x1f\x7f]/.test(seg[j])) j++;
    if (j === this.pos) bad('expected a string');
    const s = seg.slice(this.pos, j);
    this.pos = j;
    return s;
  }
  /** list-mailbox: astring characters plus the wildcards `%` and `*`. */
  listChars(): string {
    const seg = this.seg;
    let j = this.pos;
    while (j < seg.length && !/[(){ "\\\x00-\x1f\x7f]/.test(seg[j])) j++;
    if (j === this.pos) bad('expected a mailbox pattern');
    const s = seg.slice(this.pos, j);
    this.pos = j;
    return s;
  }
  quoted(): string {
    this.expect('"');
    const seg = this.seg;
    let out = '';
    for (let j = this.pos; j < seg.length; j++) {
      const c = seg[j];
      if (c === '"') {
        this.pos = j + 1;
        return out;
      }
      if (c === '\\') {
        const n = seg[++j];
        if (n !== '"' && n !== '\\') bad('only \\" and \\\\ may be escaped in a quoted string');
        out += n;
      } else out += c;
    }
    bad('unterminated quoted string');
  }
  string(): string {
    if (this.peek() === '"') return this.quoted();
    if (this.atLiteral() || (this.seg.endsWith('~') && this.pos === this.seg.length - 1)) return this.literal().data.toString('utf8');
    bad('expected a quoted string or a literal');
  }
  astring(): string {
    const c = this.peek();
    if (c === '"' || this.atLiteral()) return this.string();
    return this.astringChars();
  }
  nstring(): string | null {
    if (this.takeCi('NIL')) return null;
    return this.string();
  }
  number(what = 'number'): number {
    const m = /^\d+/.exec(this.seg.slice(this.pos, this.pos + 21));
    if (!m) bad(`expected a ${what}`);
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) bad(`${what} ${m[0]} is too large`);
    this.pos += m[0].length;
    return n;
  }
  /** mod-sequence-value: up to 2^63-1; values past 2^53 only ever compare as "very large". */
  modseq(): number {
    const m = /^\d{1,19}/.exec(this.seg.slice(this.pos, this.pos + 20));
    if (!m) bad('expected a modseq');
    this.pos += m[0].length;
    return Math.min(Number(m[0]), Number.MAX_SAFE_INTEGER);
  }
  nzNumber(what = 'number'): number {
    const n = this.number(what);
    if (n === 0) bad(`${what} must not be zero`);
    return n;
  }
  /** `(a b c)` with fn reading each element; empty lists allowed when `empty`. */
  list<T>(fn: () => T, empty = true): T[] {
    this.expect('(');
    if (++this.depth > MAX_DEPTH) bad('nesting too deep');
    const out: T[] = [];
    if (!this.take(')')) {
      for (;;) {
        out.push(fn());
        if (this.take(')')) break;
        this.sp();
      }
    } else if (!empty) bad('the list must not be empty');
    this.depth--;
    return out;
  }
  seqSet(): SeqSet {
    const s = this.seg;
    let j = this.pos;
    while (j < s.length && s[j] !== ' ' && s[j] !== ')' && s[j] !== '(') j++;
    const set = parseSeqSet(s.slice(this.pos, j));
    if (!set) bad(`"${s.slice(this.pos, Math.min(j, this.pos + 40))}" is not a valid sequence set; use forms like 1:5,7,9:*`);
    this.pos = j;
    return set;
  }
  flag(): string {
    if (this.take('\\')) {
      if (this.take('*')) return '\\*';
      return '\\' + this.atom('flag');
    }
    return this.atom('flag');
  }
  mailbox(): string {
    const m = this.astring();
    return m.toUpperCase() === 'INBOX' ? 'INBOX' : m;
  }
  /** date: `1-Feb-1994` or quoted; returns a UTC day number (ms at midnight). */
  date(): number {
    const q = this.peek() === '"';
    if (q) this.pos++;
    const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})/.exec(this.seg.slice(this.pos, this.pos + 11));
    const mon = m ? MONTHS.indexOf(m[2].toLowerCase()) : -1;
    if (!m || mon < 0) bad('expected a date like 1-Feb-2026');
    this.pos += m[0].length;
    if (q) this.expect('"');
    return Date.UTC(Number(m[3]), mon, Number(m[1]));
  }
  /** date-time: `"17-Jul-1996 02:44:25 -0700"`; returns epoch ms. */
  dateTime(): number {
    const s = this.quoted();
    const m = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(s);
    const mon = m ? MONTHS.indexOf(m[2].toLowerCase()) : -1;
    if (!m || mon < 0) bad('expected a date-time like "17-Jul-1996 02:44:25 -0700"');
    const off = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
    return Date.UTC(Number(m[3]), mon, Number(m[1].trim()), Number(m[4]), Number(m[5]), Number(m[6])) - off * 60_000;
  }
}

export type CommandParser = (c: Cursor, tag: string) => Command;
const parsers = new Map<string, CommandParser>();

/** Parses one request. Throws ImapError BAD (with the tag when one was read). */
export function parseCommand(parts: Part[]): Command {
  const c = new Cursor(parts);
  let tag: string;
  try {
    tag = c.atom('tag');
    if (tag.includes('+')) bad('a tag must not contain "+"');
    c.sp();
  } catch (err) {
    throw Object.assign(err as Error, { tag: '*' });
  }
  try {
    let name = c.atom('command').toUpperCase();
    let uid = false;
    if (name === 'UID') {
      c.sp();
      name = c.atom('command').toUpperCase();
      if (!['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'EXPUNGE', 'SORT', 'THREAD'].includes(name)) bad(`UID ${name} is not a command`);
      uid = true;
      if (name === 'EXPUNGE') name = 'UIDEXPUNGE';
    }
    const p = parsers.get(name);
    if (!p) bad(`unknown command ${name}; see CAPABILITY for what this server supports`);
    const cmd = p(c, tag);
    c.end();
    if (uid) cmd.uid = true;
    return cmd;
  } catch (err) {
    throw Object.assign(err as Error, { tag });
  }
}

export function register(names: string[], p: CommandParser): void {
  for (const n of names) parsers.set(n, p);
}

// Commands without arguments.
for (const n of ['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'IDLE', 'NAMESPACE'] as const) {
  register([n], (_c, tag) => ({ tag, name: n }));
}

register(['LOGIN'], (c, tag) => {
  c.sp();
  const user = c.astring();
  c.sp();
  return { tag, name: 'LOGIN', user, pass: c.astring() };
});

register(['AUTHENTICATE'], (c, tag) => {
  c.sp();
  const mechanism = c.atom('mechanism').toUpperCase();
  let initial: string | null = null;
  if (c.take(' ')) initial = c.take('=') ? '' : c.astringChars();
  return { tag, name: 'AUTHENTICATE', mechanism, initial };
});

register(['ENABLE'], (c, tag) => {
  const caps: string[] = [];
  while (c.take(' ')) caps.push(c.atom('capability').toUpperCase());
  if (!caps.length) bad('ENABLE needs at least one capability');
  return { tag, name: 'ENABLE', caps };
});

register(['COMPRESS'], (c, tag) => {
  c.sp();
  return { tag, name: 'COMPRESS', mechanism: c.atom('mechanism').toUpperCase() };
});

register(['ID'], (c, tag) => {
  c.sp();
  if (c.takeCi('NIL')) return { tag, name: 'ID', params: null };
  const params: Record<string, string | null> = {};
  const flat = c.list(() => c.nstring());
  if (flat.length % 2 || flat.length > 60) bad('ID takes up to 30 field-value pairs');
  for (let i = 0; i < flat.length; i += 2) params[String(flat[i]).slice(0, 30)] = flat[i + 1] === null ? null : String(flat[i + 1]).slice(0, 1024);
  return { tag, name: 'ID', params };
});

// SELECT/EXAMINE share a parser that needs to know its own name.
for (const n of ['SELECT', 'EXAMINE'] as const) {
  register([n], (c, tag) => {
    c.sp();
    const mailbox = c.mailbox();
    let condstore = false;
    let qresync: QresyncParams | null = null;
    if (c.take(' ')) {
      c.list(() => {
        const p = c.atom('parameter').toUpperCase();
        if (p === 'CONDSTORE') condstore = true;
        else if (p === 'QRESYNC') {
          c.sp();
          c.expect('(');
          const uidValidity = c.nzNumber('uidvalidity');
          c.sp();
          const q: QresyncParams = { uidValidity, modseq: c.modseq() };
          if (c.take(' ')) {
            if (c.peek() !== '(') {
              q.knownUids = c.seqSet();
              c.take(' ');
            }
            if (c.peek() === '(') {
              c.expect('(');
              const seqs = c.seqSet();
              c.sp();
              q.seqMatch = { seqs, uids: c.seqSet() };
              c.expect(')');
            }
          }
          c.expect(')');
          qresync = q;
        } else bad(`unknown SELECT parameter ${p}`);
      }, false);
    }
    return { tag, name: n, mailbox, condstore, qresync };
  });
}

register(['CREATE'], (c, tag) => {
  c.sp();
  const mailbox = c.mailbox();
  let specialUse: string | null = null;
  if (c.take(' ')) {
    c.list(() => {
      if (!c.takeCi('USE')) bad('the only CREATE parameter is USE');
      c.sp();
      const uses = c.list(() => c.flag());
      if (uses.length > 1) throw new ImapError('NO', 'USEATTR', 'one special-use attribute per folder; pick one');
      specialUse = uses[0] ?? null;
    });
  }
  return { tag, name: 'CREATE', mailbox, specialUse };
});

for (const n of ['DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE'] as const) {
  register([n], (c, tag) => {
    c.sp();
    return { tag, name: n, mailbox: c.mailbox() };
  });
}

register(['RENAME'], (c, tag) => {
  c.sp();
  const from = c.mailbox();
  c.sp();
  return { tag, name: 'RENAME', from, to: c.mailbox() };
});

function listMailbox(c: Cursor): string {
  if (c.peek() === '"' || c.atLiteral()) return c.string();
  return c.listChars();
}

register(['LIST'], (c, tag) => {
  c.sp();
  let selection: string[] = [];
  if (c.peek() === '(') {
    selection = c.list(() => c.atom('selection option').toUpperCase());
    c.sp();
  }
  const ref = c.astring();
  c.sp();
  const patterns = c.peek() === '(' ? c.list(() => listMailbox(c), false) : [listMailbox(c)];
  const returns: ListReturn = { subscribed: false, children: false, specialUse: false, status: null };
  if (c.take(' ')) {
    if (!c.takeCi('RETURN ')) bad('expected RETURN (...)');
    c.list(() => {
      const o = c.atom('return option').toUpperCase();
      if (o === 'SUBSCRIBED') returns.subscribed = true;
      else if (o === 'CHILDREN') returns.children = true;
      else if (o === 'SPECIAL-USE') returns.specialUse = true;
      else if (o === 'STATUS') {
        c.sp();
        returns.status = c.list(() => c.atom('status item').toUpperCase(), false);
      } else bad(`unknown LIST return option ${o}`);
    });
  }
  for (const s of selection) if (!['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'].includes(s)) bad(`unknown LIST selection option ${s}`);
  // RFC 5258 §3.1: RECURSIVEMATCH alone, or with only REMOTE, is a syntax error.
  if (selection.includes('RECURSIVEMATCH') && selection.every((o) => o === 'RECURSIVEMATCH' || o === 'REMOTE'))
    bad('RECURSIVEMATCH needs another selection option, such as SUBSCRIBED');
  return { tag, name: 'LIST', selection, ref, patterns, returns };
});

register(['LSUB'], (c, tag) => {
  c.sp();
  const ref = c.astring();
  c.sp();
  return { tag, name: 'LSUB', ref, patterns: [listMailbox(c)] };
});

const STATUS_ITEMS = new Set(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ', 'RECENT', 'APPENDLIMIT']);
register(['STATUS'], (c, tag) => {
  c.sp();
  const mailbox = c.mailbox();
  c.sp();
  const items = c.list(() => {
    const it = c.atom('status item').toUpperCase();
    if (!STATUS_ITEMS.has(it)) bad(`unknown STATUS item ${it}`);
    return it;
  }, false);
  return { tag, name: 'STATUS', mailbox, items };
});

register(['APPEND'], (c, tag) => {
  c.sp();
  const mailbox = c.mailbox();
  const messages: AppendMessage[] = [];
  while (c.take(' ')) {
    let flags: string[] = [];
    let date: number | null = null;
    if (c.peek() === '(') {
      flags = c.list(() => c.flag());
      c.sp();
    }
    if (c.peek() === '"') {
      date = c.dateTime();
      c.sp();
    }
    let binary = false;
    let data: Buffer;
    const utf8 = c.takeCi('UTF8 (');
    ({ data, binary } = c.literal());
    if (utf8) c.expect(')');
    messages.push({ flags, date, data, binary, utf8 });
  }
  if (!messages.length) bad('APPEND needs a message literal');
  return { tag, name: 'APPEND', mailbox, messages };
});

function section(c: Cursor): Section {
  const part: number[] = [];
  const s: Section = { path: part };
  while (/\d/.test(c.peek())) {
    part.push(c.nzNumber('part number'));
    if (!c.take('.')) return s;
  }
  if (c.peek() === ']') {
    if (part.length) bad('a section may not end with "."');
    return s;
  }
  const t = c.atom('section text').toUpperCase();
  if (t === 'HEADER' || t === 'TEXT') s.text = t;
  else if (t === 'MIME' && part.length) s.text = 'MIME';
  else if (t === 'HEADER.FIELDS' || t === 'HEADER.FIELDS.NOT') {
    s.text = t;
    c.sp();
    s.fields = c.list(() => c.astring().toLowerCase(), false);
  } else bad(`unknown section ${t}`);
  return s;
}

const FETCH_MACROS: Record<string, FetchAtt['kind'][]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};
const SIMPLE_ATTS = new Set(['FLAGS', 'UID', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT']);

function fetchAtt(c: Cursor): FetchAtt {
  let name = c.word('fetch item').toUpperCase();
  const peek = name === 'BODY.PEEK' || name === 'BINARY.PEEK';
  if (c.take('[')) {
    if (!['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE'].includes(name)) bad(`${name} takes no section`);
    const binary = name.startsWith('BINARY');
    let sec: Section;
    if (binary) {
      const part: number[] = [];
      while (/\d/.test(c.peek())) {
        part.push(c.nzNumber('part number'));
        if (!c.take('.')) break;
      }
      sec = { path: part };
    } else sec = section(c);
    c.expect(']');
    if (name === 'BINARY.SIZE') return { kind: 'BINARY.SIZE', section: sec };
    const att: FetchAtt = { kind: binary ? 'BINARY[]' : 'BODY[]', peek, section: sec };
    if (c.take('<')) {
      const start = c.number('offset');
      c.expect('.');
      att.partial = { start, length: c.nzNumber('length') };
      c.expect('>');
    }
    return att;
  }
  if (name === 'BODY.PEEK' || name === 'BINARY' || name === 'BINARY.PEEK' || name === 'BINARY.SIZE') bad(`${name} needs a section in []`);
  if (!SIMPLE_ATTS.has(name)) bad(`unknown FETCH item ${name}`);
  name = name as string;
  return { kind: name as 'FLAGS' };
}

register(['FETCH'], (c, tag) => {
  c.sp();
  const set = c.seqSet();
  c.sp();
  let atts: FetchAtt[];
  if (c.peek() === '(') atts = c.list(() => fetchAtt(c), false);
  else {
    const save = c.peek();
    void save;
    const macro = Object.keys(FETCH_MACROS).find((m) => c.takeCi(m) && (c.peek() === '' || c.peek() === ' '));
    atts = macro ? FETCH_MACROS[macro].map((k) => ({ kind: k }) as FetchAtt) : [fetchAtt(c)];
  }
  let changedSince: number | null = null;
  let vanished = false;
  if (c.take(' ')) {
    c.list(() => {
      const m = c.atom('modifier').toUpperCase();
      if (m === 'CHANGEDSINCE') {
        c.sp();
        changedSince = c.modseq();
      } else if (m === 'VANISHED') vanished = true;
      else bad(`unknown FETCH modifier ${m}`);
    }, false);
  }
  return { tag, name: 'FETCH', set, atts, changedSince, vanished };
});

register(['STORE'], (c, tag) => {
  c.sp();
  const set = c.seqSet();
  c.sp();
  let unchangedSince: number | null = null;
  if (c.peek() === '(') {
    c.list(() => {
      if (!c.takeCi('UNCHANGEDSINCE ')) bad('the only STORE modifier is UNCHANGEDSINCE');
      unchangedSince = c.modseq();
    }, false);
    c.sp();
  }
  const op = c.atom('store operation').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(op);
  if (!m) bad(`${op} is not FLAGS, +FLAGS or -FLAGS`);
  c.sp();
  const flags = c.peek() === '(' ? c.list(() => c.flag()) : (() => {
    const f = [c.flag()];
    while (c.take(' ')) f.push(c.flag());
    return f;
  })();
  return { tag, name: 'STORE', set, mode: m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set', silent: !!m[2], flags, unchangedSince };
});

for (const n of ['COPY', 'MOVE'] as const) {
  register([n], (c, tag) => {
    c.sp();
    const set = c.seqSet();
    c.sp();
    return { tag, name: n, set, mailbox: c.mailbox() };
  });
}

register(['UIDEXPUNGE'], (c, tag) => {
  c.sp();
  return { tag, name: 'UIDEXPUNGE', set: c.seqSet() };
});

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

register(['SEARCH'], (c, tag) => {
  c.sp();
  const returns = searchReturn(c);
  if (c.takeCi('CHARSET ')) {
    charset(c);
    c.sp();
  }
  return { tag, name: 'SEARCH', returns, key: searchProgram(c) };
});

const SORT_KEYS = new Set(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);
register(['SORT'], (c, tag) => {
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
});

register(['THREAD'], (c, tag) => {
  c.sp();
  const algorithm = c.atom('algorithm').toUpperCase();
  if (algorithm !== 'REFERENCES' && algorithm !== 'ORDEREDSUBJECT') bad(`unknown THREAD algorithm ${algorithm}; use REFERENCES or ORDEREDSUBJECT`);
  c.sp();
  charset(c);
  c.sp();
  return { tag, name: 'THREAD', algorithm, key: searchProgram(c) };
});

for (const n of ['GETQUOTA', 'GETQUOTAROOT'] as const) {
  register([n], (c, tag) => {
    c.sp();
    return { tag, name: n, root: c.astring() };
  });
}
register(['SETQUOTA'], (c, tag) => {
  c.sp();
  const root = c.astring();
  c.sp();
  c.list(() => {
    c.atom('resource');
    c.sp();
    return c.number('limit');
  });
  return { tag, name: 'SETQUOTA', root };
});

// RFC 5465 §8: NOTIFY NONE, or SET [STATUS] followed by event groups of
// a mailbox filter and its events (or NONE). Which events are supported is
// the handler's call (it answers BADEVENT); this only checks the grammar.
const NOTIFY_FILTERS = ['SELECTED-DELAYED', 'SELECTED', 'INBOXES', 'PERSONAL', 'SUBSCRIBED', 'SUBTREE', 'MAILBOXES'] as const;
const NOTIFY_EVENTS = ['MessageNew', 'MessageExpunge', 'FlagChange', 'AnnotationChange', 'MailboxName', 'SubscriptionChange', 'MailboxMetadataChange', 'ServerMetadataChange'];

function notifyGroup(c: Cursor): NotifyGroup {
  c.expect('(');
  const word = c.atom('mailbox filter').toUpperCase();
  const filter = NOTIFY_FILTERS.find((f) => f === word);
  if (!filter) bad(`${word} is not a NOTIFY mailbox filter; use SELECTED, SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED, SUBTREE or MAILBOXES`);
  let mailboxes: string[] = [];
  if (filter === 'SUBTREE' || filter === 'MAILBOXES') {
    c.sp();
    mailboxes = c.peek() === '(' ? c.list(() => c.mailbox(), false) : [c.mailbox()];
  }
  c.sp();
  let events: string[] = [];
  let fetch: FetchAtt[] | null = null;
  if (!c.takeCi('NONE')) {
    events = c.list(() => {
      const name = c.atom('event');
      const known = NOTIFY_EVENTS.find((e) => e.toUpperCase() === name.toUpperCase()) ?? name;
      if (known === 'MessageNew' && c.lookingAt(' (')) {
        c.sp();
        fetch = c.list(() => fetchAtt(c), false);
      }
      return known;
    }, false);
  }
  c.expect(')');
  return { filter, mailboxes, events, fetch };
}

register(['NOTIFY'], (c, tag) => {
  c.sp();
  if (c.takeCi('NONE')) return { tag, name: 'NOTIFY', set: null };
  if (!c.takeCi('SET')) bad('NOTIFY takes SET or NONE');
  // §8: notify-set = "SET" [status-indicator] SP event-groups, status-indicator = SP "STATUS".
  const status = c.takeCi(' STATUS') && (c.lookingAt(' ') || c.atEnd() || bad('expected an event group after NOTIFY SET STATUS'));
  const groups: NotifyGroup[] = [];
  do {
    c.sp();
    groups.push(notifyGroup(c));
  } while (!c.atEnd());
  return { tag, name: 'NOTIFY', set: { status, groups } };
});
