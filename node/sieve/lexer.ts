/**
 * @module node/sieve/lexer
 * Sieve's lexical tokens (RFC 5228 §8.1): identifiers, tags, numbers with
 * K/M/G quantifiers, quoted strings with backslash escapes, multi-line
 * `text:` strings with dot-unstuffing, and the punctuation of the grammar.
 * Comments are skipped. Every token carries its line and column so a script
 * error points at the place the owner must fix. Pure: text in, tokens out.
 */
import { SieveSyntaxError, type Position } from './errors.js';

export type Token =
  | { kind: 'identifier'; value: string; pos: Position }
  | { kind: 'tag'; value: string; pos: Position }
  | { kind: 'number'; value: number; pos: Position }
  | { kind: 'string'; value: string; pos: Position }
  | { kind: 'punct'; value: '[' | ']' | '(' | ')' | ',' | ';' | '{' | '}'; pos: Position }
  | { kind: 'eof'; pos: Position };

/** Numbers are at most 2^63-1 in the RFC; JS keeps 2^53 exactly, more than any size test needs. */
const QUANTIFIERS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (): Position => ({ line, column: i - lineStart + 1 });
  const fail = (msg: string, p = pos()): never => {
    throw new SieveSyntaxError(msg, p);
  };
  const newline = (at: number) => {
    line++;
    lineStart = at + 1;
  };

  while (i < src.length) {
    const c = src[i];
    if (c === '\n') {
      newline(i);
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const start = pos();
      const end = src.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated /* comment', start);
      for (let j = i; j < end; j++) if (src[j] === '\n') newline(j);
      i = end + 2;
      continue;
    }
    const p = pos();
    if ('[](),;{}'.includes(c)) {
      out.push({ kind: 'punct', value: c as '[', pos: p });
      i++;
      continue;
    }
    if (c === '"') {
      // RFC 5228 §2.4.2: "\" escapes the next character; other escapes are the character itself.
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) fail('unterminated string', p);
        const d = src[i];
        if (d === '"') break;
        if (d === '\\') {
          if (i + 1 >= src.length) fail('unterminated string', p);
          s += src[i + 1];
          if (src[i + 1] === '\n') newline(i + 1);
          i += 2;
          continue;
        }
        if (d === '\n') newline(i);
        s += d;
        i++;
      }
      i++;
      out.push({ kind: 'string', value: s.replace(/\r?\n/g, '\r\n'), pos: p });
      continue;
    }
    if (c === ':') {
      const m = /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(src.slice(i, i + 64));
      if (!m) return fail('":" must start a tag such as :is');
      out.push({ kind: 'tag', value: m[1].toLowerCase(), pos: p });
      i += m[0].length;
      continue;
    }
    if (c >= '0' && c <= '9') {
      const m = /^([0-9]+)([KMGkmg]?)/.exec(src.slice(i, i + 32))!;
      const n = Number(m[1]) * (m[2] ? QUANTIFIERS[m[2].toLowerCase()] : 1);
      if (!Number.isSafeInteger(n)) fail('number too large');
      out.push({ kind: 'number', value: n, pos: p });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 128))!;
      const word = m[0];
      i += word.length;
      if (word.toLowerCase() === 'text' && src[i] === ':') {
        out.push({ kind: 'string', value: readMultiline(), pos: p });
        continue;
      }
      out.push({ kind: 'identifier', value: word.toLowerCase(), pos: p });
      continue;
    }
    fail(`unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ kind: 'eof', pos: pos() });
  return out;

  /**
   * RFC 5228 §2.4.2: `text:` then optional whitespace or a comment, CRLF, lines
   * until a line holding only ".", with a leading ".." unstuffed to ".".
   */
  function readMultiline(): string {
    const start = pos();
    i++; // ':'
    while (src[i] === ' ' || src[i] === '\t') i++;
    if (src[i] === '#') while (i < src.length && src[i] !== '\n') i++;
    if (src[i] === '\r') i++;
    if (src[i] !== '\n') fail('text: must be followed by the end of the line', start);
    newline(i);
    i++;
    const lines: string[] = [];
    for (;;) {
      if (i >= src.length) fail('unterminated text: string (end it with a line holding only ".")', start);
      let end = src.indexOf('\n', i);
      if (end < 0) end = src.length;
      let l = src.slice(i, end);
      if (l.endsWith('\r')) l = l.slice(0, -1);
      if (end < src.length) newline(end);
      i = end + 1;
      if (l === '.') break;
      lines.push(l.startsWith('..') ? l.slice(1) : l);
    }
    return lines.map((l) => l + '\r\n').join('');
  }
}
