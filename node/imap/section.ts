/**
 * @module node/imap/section
 * BODY[section] and BINARY[section] (RFC 9051 §6.4.5, RFC 3516) through
 * node/mime's section helpers on the stored structure: the part tree is
 * walked, never reparsed. Adds what IMAP needs on top: empty bytes for a
 * missing part, UNKNOWN-CTE, and the label a response echoes.
 */
import { decodeBody, resolvePart, sectionBytes as mimeSectionBytes, UnknownEncodingError, type MimePart, type Section } from '../mime/index.js';
import { ImapError } from './errors.js';

export type { Section };

export function sectionBytes(raw: Buffer, root: MimePart, s: Section): Buffer {
  return mimeSectionBytes(raw, root, s) ?? Buffer.alloc(0);
}

/** BINARY[section]: the part's content with its transfer encoding undone (RFC 3516). */
export function binaryBytes(raw: Buffer, root: MimePart, path: number[]): Buffer {
  if (!path.length) return raw;
  const r = resolvePart(root, path);
  if (!r) return Buffer.alloc(0);
  if (r.part.parts) throw new ImapError('NO', 'UNKNOWN-CTE', 'BINARY applies to leaf parts; fetch BODY[] for a multipart');
  try {
    return decodeBody(raw.subarray(r.body.start, r.body.end), r.encoding);
  } catch (err) {
    if (err instanceof UnknownEncodingError) throw new ImapError('NO', 'UNKNOWN-CTE', err.message);
    throw err;
  }
}

/** The label a response echoes for a section: `1.HEADER.FIELDS (FROM TO)`. */
export function sectionLabel(s: Section): string {
  const parts = s.path.map(String);
  if (s.text) parts.push(s.text + (s.fields ? ' (' + s.fields.map((f) => f.toUpperCase()).join(' ') + ')' : ''));
  return parts.join('.');
}
