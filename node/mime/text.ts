/**
 * @module node/mime/text
 * The searchable text of a message for the FTS5 index: header text with
 * encoded words decoded, and the body's text parts decoded from their
 * transfer encoding and charset, HTML reduced to text. Everything is capped
 * so one huge message costs bounded time and index space.
 */
import { decodeBase64, decodeCharset, decodeQuotedPrintable, latin1 } from './bytes.js';
import { parseAddressList } from './address.js';
import { decodedValue, fieldValue, scanHeader, type RawField } from './header.js';
import type { Address, MimePart } from './types.js';

/** Cap on each of headerText and bodyText, in UTF-16 code units. */
export const TEXT_CAP = 256 * 1024;
/** Raw bytes of one part looked at; enough to fill TEXT_CAP from base64 or bloated HTML. */
const PART_INPUT_CAP = 1024 * 1024;

/** Fields holding address lists, which SEARCH FROM/TO/CC/BCC also match in their normal form. */
export const ADDRESS_FIELDS = new Set(['from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'resent-from', 'resent-to', 'resent-cc', 'resent-bcc']);

/**
 * An address list written plainly, `Name <mailbox@host>, group: ...;`, with
 * comments, quoting, routes and folding gone: what a user types to find a
 * sender (`<joe (work)@ example.com>` is found as joe@example.com).
 */
export function addressText(list: Address[]): string {
  const parts: string[] = [];
  for (const a of list) {
    if (a.host === null) parts.push(a.mailbox === null ? ';' : a.mailbox + ':');
    else {
      const spec = a.host ? `${a.mailbox ?? ''}@${a.host}` : (a.mailbox ?? '');
      parts.push(a.name ? `${a.name} <${spec}>` : spec);
    }
  }
  return parts.join(', ');
}

/** Every value a field is searched in: the decoded value, and for an address field its plain form too. */
export function fieldTexts(buf: Buffer, f: RawField): string[] {
  const decoded = decodedValue(buf, f);
  if (!ADDRESS_FIELDS.has(f.name)) return [decoded];
  const v = fieldValue(buf, f);
  const plain = addressText(parseAddressList(v.length > ADDRESS_TEXT_CAP ? v.slice(0, ADDRESS_TEXT_CAP) : v));
  return plain === decoded || plain === '' ? [decoded] : [decoded, plain];
}

/** Address fields longer than this are searched in their decoded form only. */
const ADDRESS_TEXT_CAP = 64 * 1024;

export function headerText(buf: Buffer, fields: RawField[]): string {
  let out = '';
  for (const f of fields) {
    const name = latin1(buf, f.start, f.valueStart - 1).trim();
    for (const v of fieldTexts(buf, f)) out += name + ': ' + v + '\n';
    if (out.length >= TEXT_CAP) return out.slice(0, TEXT_CAP);
  }
  return out;
}

/** A part's body bytes with its transfer encoding undone (unknown encodings pass through). */
function transferDecoded(buf: Buffer, part: MimePart): Buffer {
  const body = buf.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + PART_INPUT_CAP));
  if (part.encoding === 'BASE64') return decodeBase64(body);
  if (part.encoding === 'QUOTED-PRINTABLE') return decodeQuotedPrintable(body);
  return body;
}

// HTML 4 Latin-1 entities, in code point order from U+00A0, plus the
// common typographic ones; enough for mail, where these dominate.
const LATIN1_NAMES =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml';
const ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", hellip: '…', mdash: '—', ndash: '–', lsquo: '‘',
  rsquo: '’', ldquo: '“', rdquo: '”', euro: '€', bull: '•', trade: '™', zwnj: '', zwj: '',
};
LATIN1_NAMES.split(' ').forEach((name, i) => (ENTITIES[name] = String.fromCharCode(0xa0 + i)));
ENTITIES.nbsp = ' ';

const BLOCK_TAGS = new Set(['p', 'br', 'div', 'li', 'tr', 'td', 'th', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'blockquote', 'hr', 'pre', 'ul', 'ol', 'title']);

function decodeEntities(s: string): string {
  if (s.indexOf('&') === -1) return s;
  return s.replace(/&(#[0-9]{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,7});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : ' ';
    }
    return ENTITIES[e] ?? ENTITIES[e.toLowerCase()] ?? m;
  });
}

/**
 * HTML to plain text by a single forward scan (no backtracking regex over
 * the document, so a hostile page stays linear): tags dropped, block tags
 * become line breaks, script/style/head contents and comments skipped.
 */
export function htmlToText(html: string): string {
  const lower = html.toLowerCase();
  let out = '';
  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      out += html.slice(i);
      break;
    }
    out += html.slice(i, lt);
    if (lower.startsWith('<!--', lt)) {
      const e = html.indexOf('-->', lt + 4);
      i = e === -1 ? n : e + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt === -1) break;
    const m = /^<\/?([a-z0-9]+)/.exec(lower.slice(lt, Math.min(gt, lt + 20)));
    const tag = m ? m[1] : '';
    i = gt + 1;
    if ((tag === 'script' || tag === 'style' || tag === 'head') && lower[lt + 1] !== '/') {
      const close = lower.indexOf('</' + tag, i);
      const e = close === -1 ? -1 : html.indexOf('>', close);
      i = e === -1 ? n : e + 1;
      continue;
    }
    if (BLOCK_TAGS.has(tag)) out += '\n';
    else out += ' ';
  }
  return decodeEntities(out)
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ ?\n[\s]*/g, '\n')
    .trim();
}

/** Picks what to index from a multipart/alternative: the plain version when there is one. */
function alternativeChoice(parts: MimePart[]): MimePart[] {
  const plain = parts.find((p) => p.type === 'text' && p.subtype === 'plain');
  if (plain) return [plain];
  return parts.length > 0 ? [parts[parts.length - 1]] : [];
}

export function bodyText(buf: Buffer, root: MimePart): string {
  const chunks: string[] = [];
  let total = 0;
  const walk = (p: MimePart): void => {
    if (total >= TEXT_CAP) return;
    if (p.parts) {
      const list = p.subtype === 'alternative' ? alternativeChoice(p.parts) : p.parts;
      for (const c of list) walk(c);
      return;
    }
    if (p.message) {
      walk(p.message.structure);
      return;
    }
    if (p.type !== 'text' || p.end <= p.bodyStart) return;
    let text = decodeCharset(transferDecoded(buf, p), p.params.charset);
    // Cut before the whitespace and markup passes; HTML gets room for its tags.
    const room = (TEXT_CAP - total) * (p.subtype === 'html' ? 4 : 1) + 1;
    if (text.length > room) text = text.slice(0, room);
    if (p.subtype === 'html') text = htmlToText(text);
    text = text.replace(/\r\n?/g, '\n').trim();
    if (text === '') return;
    chunks.push(text);
    total += text.length + 1;
  };
  walk(root);
  const out = chunks.join('\n');
  return out.length > TEXT_CAP ? out.slice(0, TEXT_CAP) : out;
}

/**
 * The header text SEARCH TEXT looks in: the message's header fields, then
 * those of every MIME part and enclosed message below it (RFC 9051 §6.4.4:
 * TEXT looks in "the header (including MIME header fields)"), so an
 * attachment's file name or a forwarded message's subject is found.
 */
export function searchHeaderText(buf: Buffer, fields: RawField[], root: MimePart): string {
  let out = headerText(buf, fields);
  const visit = (p: MimePart): void => {
    if (out.length >= TEXT_CAP) return;
    if (p.bodyStart > p.start) out += headerText(buf, scanHeader(buf, p.start, p.bodyStart).fields);
    below(p);
  };
  const below = (p: MimePart): void => {
    for (const c of p.parts ?? []) visit(c);
    if (p.message) visit(p.message.structure);
  };
  below(root);
  return out.length > TEXT_CAP ? out.slice(0, TEXT_CAP) : out;
}

/**
 * The searchable text of a stored message from its raw bytes and stored
 * structure, without parsing it again: what delivery put in the full-text
 * index, for messages the index does not hold (yet) and for strings too
 * short for it.
 */
export function searchableText(raw: Buffer, root: MimePart): { headers: string; body: string } {
  return { headers: searchHeaderText(raw, scanHeader(raw, 0, root.bodyStart).fields, root), body: bodyText(raw, root) };
}
