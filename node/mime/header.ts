/**
 * @module node/mime/header
 * The header block of one MIME entity, found on the raw bytes: where each
 * field starts and ends (for HEADER.FIELDS), where the body starts, and the
 * structured values MIME needs (Content-Type with RFC 2231 parameters,
 * Content-Disposition, Content-Language). Lenient by design: a missing blank
 * line, bare LF line endings and 8-bit bytes all parse, and the caller is
 * told when the input was not valid so the message can be marked damaged.
 */
import { CR, HT, LF, SP, decodeCharset, headerString, latin1 } from './bytes.js';
import { decodeWords } from './words.js';

/** One header field as byte offsets into the raw message. */
export interface RawField {
  /** Lower-cased field name. */
  name: string;
  /** Offset of the first byte of the field name. */
  start: number;
  /** Offset just past the colon. */
  valueStart: number;
  /** Offset just past the line break of the field's last (continuation) line. */
  end: number;
  /** The unfolded value, filled in by fieldValue the first time it is asked for. */
  value?: string;
  /** The value with encoded words decoded, filled in by decodedValue. */
  decoded?: string;
}

export interface HeaderBlock {
  fields: RawField[];
  /** First body byte: past the blank line, or where the header had to stop. */
  bodyStart: number;
  /** True when the header was not well formed (non-field line, leading continuation). */
  damaged: boolean;
}

/**
 * Beyond this many fields the rest of the header is still skipped over
 * correctly but not recorded, so a hostile header cannot make the stored
 * structure or the per-field work unbounded.
 */
const MAX_FIELDS = 2000;

/** Whether [start, lineEnd) looks like `name:` (RFC 5322 ftext, obsolete WSP before the colon allowed). */
function colonOf(buf: Buffer, start: number, lineEnd: number): number {
  let i = start;
  while (i < lineEnd) {
    const c = buf[i];
    if (c === 0x3a) return i > start ? i : -1;
    if (c === SP || c === HT) {
      // Only whitespace may follow until the colon.
      let j = i;
      while (j < lineEnd && (buf[j] === SP || buf[j] === HT)) j++;
      return j < lineEnd && buf[j] === 0x3a && i > start ? j : -1;
    }
    if (c <= 0x20 || c >= 0x7f) return -1;
    i++;
  }
  return -1;
}

/** Scans the header of the entity starting at `start`, never past `limit`. */
export function scanHeader(buf: Buffer, start: number, limit: number): HeaderBlock {
  const view = buf.subarray(0, limit);
  const fields: RawField[] = [];
  let damaged = false;
  let last: RawField | null = null;
  let pos = start;
  while (pos < limit) {
    const c = buf[pos];
    if (c === LF) return { fields, bodyStart: pos + 1, damaged };
    if (c === CR && (pos + 1 >= limit || buf[pos + 1] === LF)) {
      return { fields, bodyStart: Math.min(pos + 2, limit), damaged };
    }
    const nl = view.indexOf(LF, pos);
    const lineEnd = nl === -1 ? limit : nl;
    const next = nl === -1 ? limit : nl + 1;
    if (c === SP || c === HT) {
      if (last) last.end = next;
      else damaged = true; // continuation with nothing to continue: skip the line
      pos = next;
      continue;
    }
    const colon = colonOf(buf, pos, lineEnd);
    if (colon < 0) {
      // Not a header field: the sender forgot the blank line, so the body starts here.
      return { fields, bodyStart: pos, damaged: true };
    }
    if (fields.length < MAX_FIELDS) {
      let nameEnd = colon;
      while (nameEnd > pos && (buf[nameEnd - 1] === SP || buf[nameEnd - 1] === HT)) nameEnd--;
      last = { name: latin1(buf, pos, nameEnd).toLowerCase(), start: pos, valueStart: colon + 1, end: next, value: undefined, decoded: undefined };
      fields.push(last);
    } else {
      last = null;
    }
    pos = next;
  }
  return { fields, bodyStart: limit, damaged };
}

/** The unfolded value of a field: line breaks removed, outer whitespace trimmed. */
export function fieldValue(buf: Buffer, f: RawField): string {
  if (f.value !== undefined) return f.value;
  let s = headerString(buf, f.valueStart, f.end);
  // Only a trailing line break is common; inner ones mean folding.
  const cut = s.indexOf('\n');
  if (cut !== -1 && cut < s.length - 1) s = s.replace(/[\r\n]+/g, '');
  else if (s.indexOf('\r') !== -1 && s.indexOf('\r') < s.length - 2) s = s.replace(/[\r\n]+/g, '');
  return (f.value = s.trim());
}

/** Longest value handed to encoded-word decoding; beyond it is hostile. */
export const DECODE_CAP = 256 * 1024;

/** The unfolded value with RFC 2047 encoded words decoded (cut at DECODE_CAP), cached on the field. */
export function decodedValue(buf: Buffer, f: RawField): string {
  if (f.decoded !== undefined) return f.decoded;
  const v = fieldValue(buf, f);
  return (f.decoded = decodeWords(v.length > DECODE_CAP ? v.slice(0, DECODE_CAP) : v));
}

/** First occurrence of each field name. */
export function firstFields(fields: RawField[]): Map<string, RawField> {
  const m = new Map<string, RawField>();
  for (const f of fields) if (!m.has(f.name)) m.set(f.name, f);
  return m;
}

/** Removes RFC 5322 comments outside quoted strings (nesting and escapes honoured). */
export function stripComments(s: string): string {
  if (s.indexOf('(') === -1) return s;
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += c + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (depth === 0 && c === '"') quoted = !quoted;
    if (!quoted) {
      if (c === '(') {
        depth++;
        continue;
      }
      if (c === ')' && depth > 0) {
        depth--;
        if (depth === 0) out += ' ';
        continue;
      }
    }
    if (depth === 0) out += c;
  }
  return out;
}

export interface StructuredValue {
  /** Lower-cased main value (`text/plain`, `attachment`). */
  value: string;
  params: Record<string, string>;
}

interface Continuation {
  index: number;
  extended: boolean;
  value: string;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function percentDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // Raw non-ASCII in an extended value: keep its UTF-8 bytes.
      for (const b of Buffer.from(s[i], 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

/** Joins RFC 2231 continuations in index order and decodes `charset'lang'%XX` values. */
function joinContinuations(parts: Continuation[]): string {
  parts.sort((a, b) => a.index - b.index);
  let charset = '';
  const chunks: Buffer[] = [];
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k];
    let v = p.value;
    if (p.extended) {
      if (k === 0 && p.index === 0) {
        const q1 = v.indexOf("'");
        const q2 = q1 === -1 ? -1 : v.indexOf("'", q1 + 1);
        if (q2 !== -1) {
          charset = v.slice(0, q1);
          v = v.slice(q2 + 1);
        }
      }
      chunks.push(percentDecode(v));
    } else {
      chunks.push(Buffer.from(v, 'utf8'));
    }
  }
  return decodeCharset(Buffer.concat(chunks), charset || 'utf-8');
}

/**
 * Parses `value; a=1; b="two"; c*0*=utf-8''%E2%82%AC; c*1=x` into the
 * main value and parameters, names lower-cased, RFC 2231 continuations
 * joined and decoded. Unquoted values with spaces (a common mistake) are
 * taken up to the next `;`.
 */
export function parseStructured(raw: string): StructuredValue {
  const s = stripComments(raw);
  let i = s.indexOf(';');
  const value = (i === -1 ? s : s.slice(0, i)).replace(/\s+/g, '').toLowerCase();
  const params: Record<string, string> = Object.create(null);
  const continued = new Map<string, Continuation[]>();
  // Next '=' at or after i, reused across parameters so `a;a;a;...` stays linear.
  let eq = -2;
  while (i !== -1 && i < s.length) {
    i++; // past ';'
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    if (eq !== -1 && eq < i) eq = s.indexOf('=', i);
    if (eq === -1) break;
    const semi = s.indexOf(';', i);
    if (semi !== -1 && semi < eq) {
      i = semi;
      continue;
    }
    const name = s.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
    let val: string;
    if (s[j] === '"') {
      let v = '';
      j++;
      while (j < s.length && s[j] !== '"') {
        if (s[j] === '\\' && j + 1 < s.length) j++;
        v += s[j];
        j++;
      }
      val = v;
      i = s.indexOf(';', j);
    } else {
      const end = s.indexOf(';', j);
      val = (end === -1 ? s.slice(j) : s.slice(j, end)).trim();
      i = end;
    }
    if (name === '' || name.length > 200) continue;
    const star = name.indexOf('*') === -1 ? null : /^(.*?)\*(?:(\d+)(\*)?)?$/.exec(name);
    if (star) {
      const base = star[1];
      const index = star[2] === undefined ? 0 : Number(star[2]);
      const extended = star[2] === undefined ? true : star[3] === '*';
      let list = continued.get(base);
      if (!list) continued.set(base, (list = []));
      if (list.length < 1000 && !list.some((c) => c.index === index)) list.push({ index, extended, value: val });
    } else if (!(name in params)) {
      params[name] = val;
    }
  }
  for (const [name, list] of continued) params[name] = joinContinuations(list);
  return { value, params: { ...params } };
}
