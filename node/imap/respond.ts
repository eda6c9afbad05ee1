/**
 * @module node/imap/respond
 * Response encoders: strings (atom, quoted or literal as the bytes demand),
 * flag lists, dates, ENVELOPE and BODYSTRUCTURE from the structure stored at
 * delivery. Responses are built as chunk lists so literal bodies are never
 * copied into strings. No I/O.
 */
import type { Address, Envelope, MimePart } from '../mime/types.js';

export type Chunk = string | Buffer;

const SAFE_QUOTED = /^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/;

/** A string as quoted when it can be, else a literal (8-bit, CR/LF, long). */
export function str(s: string | Buffer | null | undefined, utf8 = false): Chunk[] {
  if (s === null || s === undefined) return ['NIL'];
  if (Buffer.isBuffer(s)) return [`{${s.length}}\r\n`, s];
  if (s.length < 1024 && (SAFE_QUOTED.test(s) || (utf8 && !/[\r\n\0]/.test(s)))) return ['"' + s.replace(/[\\"]/g, '\\$&') + '"'];
  const b = Buffer.from(s, 'utf8');
  return [`{${b.length}}\r\n`, b];
}

/** A string as a single text chunk when it needs no literal (for response lines built as strings). */
export function qstr(s: string | null | undefined): string {
  const c = str(s);
  return c.length === 1 ? (c[0] as string) : (c[0] as string) + (c[1] as Buffer).toString('utf8');
}

export function astr(s: string, utf8 = false): Chunk[] {
  return /^[^(){ %*"\\\]\x00-\x1f\x7f-\uffff]+$/.test(s) ? [s] : str(s, utf8);
}

export function flagList(flags: readonly string[]): string {
  return '(' + flags.join(' ') + ')';
}

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** INTERNALDATE as `"28-Nov-2026 10:00:00 +0000"` (UTC: we store epoch ms, not the zone). */
export function imapDate(ms: number): string {
  const d = new Date(ms);
  return `"${p2(d.getUTCDate())}-${MON[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000"`;
}

function addresses(list: Address[], out: Chunk[]): void {
  if (!list || list.length === 0) {
    out.push('NIL');
    return;
  }
  out.push('(');
  for (const a of list) {
    out.push('(', ...str(a.name), ' ', ...str(a.route ?? null), ' ', ...str(a.mailbox), ' ', ...str(a.host), ')');
  }
  out.push(')');
}

/** RFC 9051 §7.5.2 ENVELOPE; sender and reply-to fall back to from, as the RFC requires. */
export function envelope(e: Envelope, out: Chunk[] = []): Chunk[] {
  out.push('(', ...str(e.date), ' ', ...str(e.subject), ' ');
  addresses(e.from, out);
  out.push(' ');
  addresses(e.sender?.length ? e.sender : e.from, out);
  out.push(' ');
  addresses(e.replyTo?.length ? e.replyTo : e.from, out);
  for (const l of [e.to, e.cc, e.bcc]) {
    out.push(' ');
    addresses(l, out);
  }
  out.push(' ', ...str(e.inReplyTo), ' ', ...str(e.messageId), ')');
  return out;
}

function params(p: Record<string, string>, out: Chunk[]): void {
  const keys = Object.keys(p ?? {});
  if (!keys.length) {
    out.push('NIL');
    return;
  }
  out.push('(');
  keys.forEach((k, i) => out.push(i ? ' ' : '', ...str(k.toUpperCase()), ' ', ...str(p[k])));
  out.push(')');
}

function extensions(part: MimePart, out: Chunk[]): void {
  out.push(' ');
  if (part.disposition) {
    out.push('(', ...str(part.disposition.type.toUpperCase()), ' ');
    params(part.disposition.params, out);
    out.push(')');
  } else out.push('NIL');
  out.push(' ');
  if (part.language?.length) {
    out.push('(');
    part.language.forEach((l, i) => out.push(i ? ' ' : '', ...str(l)));
    out.push(')');
  } else out.push('NIL');
  out.push(' ', ...str(part.location));
}

/** RFC 9051 §7.5.2 BODYSTRUCTURE (`ext` true) or BODY (`ext` false). */
export function bodyStructure(part: MimePart, ext: boolean, out: Chunk[] = []): Chunk[] {
  if (part.parts && part.parts.length) {
    out.push('(');
    for (const p of part.parts) bodyStructure(p, ext, out);
    out.push(' ', ...str(part.subtype.toUpperCase()));
    if (ext) {
      out.push(' ');
      params(part.params, out);
      extensions(part, out);
    }
    out.push(')');
    return out;
  }
  out.push('(', ...str(part.type.toUpperCase()), ' ', ...str(part.subtype.toUpperCase()), ' ');
  params(part.params, out);
  out.push(' ', ...str(part.id), ' ', ...str(part.description), ' ', ...str(part.encoding), ` ${part.size}`);
  if (part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global') && part.message) {
    out.push(' ');
    envelope(part.message.envelope, out);
    out.push(' ');
    bodyStructure(part.message.structure, ext, out);
    out.push(` ${part.lines}`);
  } else if (part.type === 'text') out.push(` ${part.lines}`);
  if (ext) {
    out.push(' ', ...str(part.md5));
    extensions(part, out);
  }
  out.push(')');
  return out;
}

/** Joins chunks into one Buffer, merging adjacent strings. */
export function toBuffer(chunks: Chunk[]): Buffer {
  const bufs: Buffer[] = [];
  let s = '';
  for (const c of chunks) {
    if (typeof c === 'string') s += c;
    else {
      if (s) bufs.push(Buffer.from(s, 'utf8'));
      s = '';
      bufs.push(c);
    }
  }
  if (s) bufs.push(Buffer.from(s, 'utf8'));
  return bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
}
