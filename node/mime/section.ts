/**
 * @module node/mime/section
 * What IMAP FETCH BODY[...] and BINARY[...] need, from the stored structure
 * and the raw bytes, without parsing the MIME tree again (RFC 9051 §6.4.5,
 * RFC 3516). Section paths follow IMAP's numbering: a non-multipart
 * message's part 1 is its body, and the parts of a message/rfc822 part are
 * the parts of the message it encloses.
 */
import { decodeBase64, decodeQuotedPrintable } from './bytes.js';
import { scanHeader } from './header.js';
import type { MimePart } from './types.js';

/** The text after the part number: absent for the part itself. */
export type SectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

export interface Section {
  /** Part numbers, 1-based; empty for the whole message. */
  path: number[];
  text?: SectionText;
  /** Field names for HEADER.FIELDS and HEADER.FIELDS.NOT (any case). */
  fields?: string[];
}

export interface ByteRange {
  start: number;
  end: number;
}

/** A resolved part: its MIME entity and the byte range of its content. */
export interface ResolvedPart {
  part: MimePart;
  /** The part's MIME header (for `.MIME`). */
  header: ByteRange;
  /** The part's content (for the bare part and BINARY). */
  body: ByteRange;
  /** Content-Transfer-Encoding of the content, for BINARY. */
  encoding: string;
}

/** Thrown by decodeBody for a transfer encoding it cannot undo; IMAP answers `NO [UNKNOWN-CTE]`. */
export class UnknownEncodingError extends Error {
  readonly code = 'UNKNOWN-CTE' as const;
  constructor(readonly encoding: string) {
    super(`Unknown Content-Transfer-Encoding "${encoding}": fetch the part with BODY[] instead of BINARY[] and decode it in the client`);
    this.name = 'UnknownEncodingError';
  }
}

function isMessage(p: MimePart): boolean {
  return p.message !== undefined;
}

/**
 * Resolves a numeric part path. Returns null when the part does not exist.
 * An empty path is not a part (the whole message is handled by sectionRange).
 */
export function resolvePart(structure: MimePart, path: number[]): ResolvedPart | null {
  if (path.length === 0) return null;
  // `container` is the entity whose children the next number selects: a
  // message (top-level or enclosed) or a multipart.
  let container: MimePart = structure;
  let containerIsMessage = true;
  let target: ResolvedPart | null = null;
  for (let k = 0; k < path.length; k++) {
    const n = path[k];
    if (!Number.isInteger(n) || n < 1) return null;
    if (container.parts) {
      const p = container.parts[n - 1];
      if (!p) return null;
      target = { part: p, header: { start: p.start, end: p.bodyStart }, body: { start: p.bodyStart, end: p.end }, encoding: p.encoding };
    } else if (containerIsMessage && n === 1) {
      // A non-multipart message has exactly one part: its body, described by the message's own header.
      const p = container;
      target = { part: p, header: { start: p.start, end: p.bodyStart }, body: { start: p.bodyStart, end: p.end }, encoding: p.encoding };
    } else {
      return null;
    }
    if (k === path.length - 1) break;
    const p = target.part;
    if (p.message) {
      container = p.message.structure;
      containerIsMessage = true;
    } else if (p.parts && p !== container) {
      container = p;
      containerIsMessage = false;
    } else {
      return null;
    }
  }
  return target;
}

/**
 * The byte range of a contiguous section: the whole message, HEADER, TEXT,
 * MIME, or a bare part. For HEADER.FIELDS(.NOT) it is the header the fields
 * are chosen from (use sectionBytes for the selection itself). Null when
 * the section does not exist: no such part, MIME without a part number, or
 * HEADER/TEXT on a part that is not a message/rfc822 or message/global.
 */
export function sectionRange(structure: MimePart, section: Section): ByteRange | null {
  const { path, text } = section;
  let msg: MimePart;
  if (path.length === 0) {
    if (text === undefined) return { start: structure.start, end: structure.end };
    if (text === 'MIME') return null;
    msg = structure;
  } else {
    const r = resolvePart(structure, path);
    if (!r) return null;
    if (text === undefined) return r.body;
    if (text === 'MIME') return r.header;
    if (!isMessage(r.part)) return null;
    msg = r.part.message!.structure;
  }
  if (text === 'TEXT') return { start: msg.bodyStart, end: msg.end };
  return { start: msg.start, end: msg.bodyStart };
}

const CRLF = Buffer.from('\r\n');

/**
 * The header fields of [start, end) whose names are (or, with `not`, are
 * not) in `names`, compared case-insensitively, each in its original form
 * including continuation lines, followed by the blank line that ends a
 * header (RFC 9051 §6.4.5).
 */
export function headerFields(raw: Buffer, range: ByteRange, names: string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const block = scanHeader(raw, range.start, range.end);
  const chunks: Buffer[] = [];
  for (const f of block.fields) {
    if (wanted.has(f.name) !== not) {
      chunks.push(raw.subarray(f.start, f.end));
      // A last field without a line break still needs one before the blank line.
      if (raw[f.end - 1] !== 0x0a) chunks.push(CRLF);
    }
  }
  chunks.push(CRLF);
  return Buffer.concat(chunks);
}

/**
 * The bytes of any section, or null when it does not exist. Contiguous
 * sections are views into `raw` (no copy); HEADER.FIELDS(.NOT) is built.
 */
export function sectionBytes(raw: Buffer, structure: MimePart, section: Section): Buffer | null {
  const range = sectionRange(structure, section);
  if (!range) return null;
  const end = Math.min(range.end, raw.length);
  const start = Math.min(range.start, end);
  if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
    return headerFields(raw, { start, end }, section.fields ?? [], section.text === 'HEADER.FIELDS.NOT');
  }
  return raw.subarray(start, end);
}

/**
 * Undoes a Content-Transfer-Encoding for BINARY[] (RFC 3516). Identity
 * encodings return the input; unknown ones throw UnknownEncodingError.
 */
export function decodeBody(bytes: Buffer, encoding: string): Buffer {
  switch (encoding.trim().toUpperCase()) {
    case '':
    case '7BIT':
    case '8BIT':
    case 'BINARY':
      return bytes;
    case 'BASE64':
      return decodeBase64(bytes);
    case 'QUOTED-PRINTABLE':
      return decodeQuotedPrintable(bytes);
    default:
      throw new UnknownEncodingError(encoding);
  }
}
