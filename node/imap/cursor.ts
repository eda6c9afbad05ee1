/**
 * @module node/imap/cursor
 * The IMAP grammar's lexical layer (RFC 9051 §9): a cursor over a request's
 * line segments and literals that reads atoms, strings, numbers, lists,
 * sequence sets and dates, and throws ImapError BAD on anything else. The
 * command grammars (parse, parse-fetch, parse-search, parse-notify) are
 * written on top of it.
 */
import { ImapError } from './errors.js';
import type { Part } from './receiver.js';
import { parseSeqSet, type SeqSet } from './seqset.js';

/** How deep parenthesised lists and search keys may nest: a bound on recursion for hostile input. */
export const MAX_DEPTH = 32;
const ATOM_SPECIALS = /[(){ %*"\\\]\x00-\x1f\x7f]/;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

export function bad(text: string): never {
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
