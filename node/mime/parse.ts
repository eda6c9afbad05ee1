/**
 * @module node/mime/parse
 * Parse once, at delivery: the raw message in, everything IMAP FETCH,
 * SEARCH, SORT and THREAD need out (see types.ts). Pure and total: any byte
 * sequence yields a ParsedMessage, with `damaged` set when the input was
 * not valid MIME. Works on the Buffer with byte offsets throughout; only
 * header values and text parts are ever turned into strings.
 *
 * Structural promises the IMAP encoder can rely on:
 * - a part whose type is `multipart` always has `parts`, with at least one
 *   entry (a multipart with no boundary is read as text/plain, one whose
 *   boundary never appears gets a single header-less text/plain part
 *   covering its body);
 * - a part whose type is `message/rfc822` or `message/global` always has
 *   `message` (when the body is transfer-encoded, the enclosed message is
 *   an empty envelope around one header-less text/plain part);
 * - nesting deeper than MAX_DEPTH, or parts past MAX_PARTS, are leaves of
 *   type application/octet-stream.
 */
import { CR, HT, LF, SP, countLines } from './bytes.js';
import { buildEnvelope, emptyEnvelope, messageIds, parseDate } from './envelope.js';
import { fieldValue, firstFields, parseStructured, scanHeader, stripComments, type RawField } from './header.js';
import { bodyText, searchHeaderText } from './text.js';
import type { Address, Envelope, MimePart, ParsedMessage } from './types.js';
import { reportUnexpected } from '../util/unexpected.js';

/** Multipart and message nesting deeper than this is not descended into. */
export const MAX_DEPTH = 32;
/** Total MIME parts per message; mail with more is hostile or broken. */
export const MAX_PARTS = 10_000;

interface Ctx {
  buf: Buffer;
  parts: number;
  damaged: boolean;
}

interface Entity {
  part: MimePart;
  /** All header fields in order (for header text). */
  fields: RawField[];
  /** First occurrence of each field (for the envelope). */
  first: Map<string, RawField>;
}

function optional(buf: Buffer, fields: Map<string, RawField>, name: string): string | null {
  const f = fields.get(name);
  return f ? fieldValue(buf, f) : null;
}

/** Turns a container we will not descend into into an opaque leaf. */
function leaf(part: MimePart): void {
  part.type = 'application';
  part.subtype = 'octet-stream';
}

/** A header-less text/plain part over [start, end), standing in for a body we cannot structure. */
function plainBody(buf: Buffer, start: number, end: number): MimePart {
  return {
    start,
    bodyStart: start,
    end,
    type: 'text',
    subtype: 'plain',
    params: { charset: 'us-ascii' },
    id: null,
    description: null,
    encoding: '7BIT',
    md5: null,
    disposition: null,
    language: null,
    location: null,
    size: end - start,
    lines: countLines(buf, start, end),
  };
}

/** Parses the entity (header + body) occupying [start, end). */
function parseEntity(ctx: Ctx, start: number, end: number, depth: number, inDigest: boolean): Entity {
  const { buf } = ctx;
  ctx.parts++;
  const header = scanHeader(buf, start, end);
  if (header.damaged) ctx.damaged = true;
  const fields = firstFields(header.fields);
  const bodyStart = header.bodyStart;

  let type = inDigest ? 'message' : 'text';
  let subtype = inDigest ? 'rfc822' : 'plain';
  let params: Record<string, string> = inDigest ? {} : { charset: 'us-ascii' };
  const ct = optional(buf, fields, 'content-type');
  if (ct !== null) {
    const parsed = parseStructured(ct);
    const slash = parsed.value.indexOf('/');
    if (slash > 0 && slash < parsed.value.length - 1) {
      type = parsed.value.slice(0, slash);
      subtype = parsed.value.slice(slash + 1);
      params = parsed.params;
    } else {
      // RFC 2045 §5.2: an unusable Content-Type means text/plain; charset=us-ascii.
      ctx.damaged = true;
      type = 'text';
      subtype = 'plain';
      params = { ...parsed.params };
      if (!params.charset) params.charset = 'us-ascii';
    }
  }
  const cte = optional(buf, fields, 'content-transfer-encoding');
  const encoding = cte ? stripComments(cte).trim().toUpperCase() || '7BIT' : '7BIT';
  const cd = optional(buf, fields, 'content-disposition');
  let disposition: MimePart['disposition'] = null;
  if (cd !== null) {
    const d = parseStructured(cd);
    if (d.value !== '') disposition = { type: d.value, params: d.params };
  }
  const cl = optional(buf, fields, 'content-language');
  let language: string[] | null = null;
  if (cl !== null) {
    const list = stripComments(cl)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (list.length > 0) language = list;
  }

  const part: MimePart = {
    start,
    bodyStart,
    end,
    type,
    subtype,
    params,
    id: optional(buf, fields, 'content-id'),
    description: optional(buf, fields, 'content-description'),
    encoding,
    md5: optional(buf, fields, 'content-md5'),
    disposition,
    language,
    location: optional(buf, fields, 'content-location'),
    size: end - bodyStart,
    lines: 0,
  };

  if (type === 'multipart') {
    if (depth >= MAX_DEPTH || ctx.parts >= MAX_PARTS) {
      ctx.damaged = true;
      leaf(part);
    } else if (!params.boundary) {
      ctx.damaged = true;
      part.type = 'text';
      part.subtype = 'plain';
    } else {
      part.parts = parseMultipart(ctx, part, depth);
    }
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global')) {
    if (depth >= MAX_DEPTH || ctx.parts >= MAX_PARTS) {
      ctx.damaged = true;
      leaf(part);
    } else if (encoding === '7BIT' || encoding === '8BIT' || encoding === 'BINARY') {
      const inner = parseEntity(ctx, bodyStart, end, depth + 1, false);
      part.message = { envelope: buildEnvelope(buf, inner.first), structure: inner.part };
    } else {
      // RFC 2046 forbids encoding message/rfc822 (RFC 6532 allows it for message/global);
      // offsets into encoded bytes would mean nothing, so the body stays opaque.
      if (subtype === 'rfc822') ctx.damaged = true;
      part.message = { envelope: emptyEnvelope(), structure: plainBody(buf, bodyStart, end) };
    }
  }
  if (part.type === 'text' || part.message) part.lines = countLines(buf, bodyStart, end);
  return { part, fields: header.fields, first: fields };
}

/**
 * Candidate delimiter byte sequences for a boundary: its UTF-8 form, and
 * its latin1 form when that differs (the header value was read as latin1).
 */
function delimiters(boundary: string): Buffer[] {
  const utf8 = Buffer.from('--' + boundary, 'utf8');
  const latin1 = Buffer.from('--' + boundary, 'latin1');
  return utf8.equals(latin1) ? [utf8] : [utf8, latin1];
}

/**
 * RFC 2046 §5.1.1: splits a multipart body at delimiter lines and parses
 * each part. The CRLF before a delimiter belongs to the delimiter. A missing
 * close delimiter ends the last part at the end of the body.
 */
function parseMultipart(ctx: Ctx, part: MimePart, depth: number): MimePart[] {
  const { buf } = ctx;
  const bodyStart = part.bodyStart;
  const end = part.end;
  const view = buf.subarray(0, end);
  const ranges: Array<[number, number]> = [];
  let found = false;
  for (const delim of delimiters(part.params.boundary)) {
    let pos = bodyStart;
    let partStart = -1;
    let closed = false;
    while (pos < end) {
      const i = view.indexOf(delim, pos);
      if (i === -1) break;
      pos = i + 1;
      if (i !== bodyStart && buf[i - 1] !== LF) continue;
      let k = i + delim.length;
      const isClose = k + 1 < end && buf[k] === 0x2d && buf[k + 1] === 0x2d;
      if (isClose) k += 2;
      while (k < end && (buf[k] === SP || buf[k] === HT)) k++;
      let lineEnd: number;
      if (k >= end) lineEnd = end;
      else if (buf[k] === LF) lineEnd = k + 1;
      else if (buf[k] === CR) lineEnd = k + 1 < end && buf[k + 1] === LF ? k + 2 : k + 1;
      else if (isClose) {
        // "--boundary--junk": still the end; the junk is epilogue.
        const nl = view.indexOf(LF, k);
        lineEnd = nl === -1 ? end : nl + 1;
      } else continue; // a longer boundary that merely starts with ours
      if (partStart >= 0) {
        let pe = i;
        if (pe > partStart && buf[pe - 1] === LF) pe--;
        if (pe > partStart && buf[pe - 1] === CR) pe--;
        ranges.push([partStart, pe]);
      }
      if (isClose) {
        closed = true;
        break;
      }
      partStart = lineEnd;
      pos = lineEnd;
      if (ctx.parts + ranges.length >= MAX_PARTS) break;
    }
    if (partStart >= 0 || closed) {
      found = true;
      if (!closed) {
        ctx.damaged = true;
        if (partStart >= 0) ranges.push([partStart, end]);
      }
      break;
    }
  }
  if (!found || ranges.length === 0) {
    ctx.damaged = true;
    ctx.parts++;
    return [plainBody(buf, bodyStart, end)];
  }
  const inDigest = part.subtype === 'digest';
  const out: MimePart[] = [];
  for (const [s, e] of ranges) out.push(parseEntity(ctx, s, e, depth + 1, inDigest).part);
  return out;
}

/**
 * The unguarded parser. Exposed for the fuzz test, which must see any
 * exception; everything else calls parseMessage.
 */
export function parseMessageUnguarded(raw: Buffer): ParsedMessage {
  const ctx: Ctx = { buf: raw, parts: 0, damaged: false };
  const root = parseEntity(ctx, 0, raw.length, 0, false);
  const fields = root.first;
  const envelope: Envelope = buildEnvelope(raw, fields);
  const irt = messageIds(envelope.inReplyTo);
  return {
    size: raw.length,
    envelope,
    structure: root.part,
    sentAt: parseDate(envelope.date),
    messageId: messageIds(envelope.messageId)[0] ?? null,
    inReplyTo: irt,
    references: messageIds(optional(raw, fields, 'references')),
    headerText: searchHeaderText(raw, root.fields, root.part),
    bodyText: bodyText(raw, root.part),
    damaged: ctx.damaged,
  };
}

/**
 * Parses a raw message. Never throws: if a bug in the parser is hit, the
 * message is still stored, as one damaged text/plain body, so delivery
 * never fails on content.
 */
export function parseMessage(raw: Buffer): ParsedMessage {
  try {
    return parseMessageUnguarded(raw);
  } catch (err) {
    reportUnexpected(err);
    return {
      size: raw.length,
      envelope: emptyEnvelope(),
      structure: plainBody(raw, 0, raw.length),
      sentAt: null,
      messageId: null,
      inReplyTo: [],
      references: [],
      headerText: '',
      bodyText: '',
      damaged: true,
    };
  }
}
