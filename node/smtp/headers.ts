/**
 * @module node/smtp/headers
 * The few header operations SMTP needs on raw bytes, without a MIME parse:
 * splitting the header block off, reading a field's unfolded values,
 * formatting dates and a Received line. Raw bytes stay untouched otherwise,
 * so DKIM signatures made upstream keep verifying.
 */
import { randomBytes } from 'node:crypto';

/** Offset of the first body byte (after the blank line), or raw.length when there is none. */
export function headerEnd(raw: Buffer): number {
  if (raw.subarray(0, 2).toString('latin1') === '\r\n') return 2;
  const i = raw.indexOf('\r\n\r\n');
  return i === -1 ? raw.length : i + 4;
}

/** Unfolded values of every field with this name, in order. */
export function headerValues(raw: Buffer, name: string): string[] {
  const head = raw.subarray(0, headerEnd(raw)).toString('utf8');
  const lines = head.split('\r\n');
  const out: string[] = [];
  const want = name.toLowerCase() + ':';
  let cur: string | null = null;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (cur !== null) cur += ' ' + line.trim();
      continue;
    }
    if (cur !== null) out.push(cur);
    cur = line.toLowerCase().startsWith(want) ? line.slice(want.length).trim() : null;
  }
  if (cur !== null) out.push(cur);
  return out;
}

/**
 * The message without the header fields `drop` picks (given the field's
 * lower-case name and unfolded value). Everything else, body included, is
 * kept byte for byte; returns `raw` itself when nothing matched.
 */
export function withoutFields(raw: Buffer, drop: (name: string, value: string) => boolean): Buffer {
  const end = headerEnd(raw);
  const head = raw.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const keep: string[] = [];
  let field: string[] = [];
  let removed = false;
  const flush = () => {
    if (field.length === 0) return;
    const first = field[0];
    const colon = first.indexOf(':');
    const name = colon > 0 ? first.slice(0, colon).trim().toLowerCase() : '';
    const value = colon > 0 ? [first.slice(colon + 1), ...field.slice(1)].map((l) => l.trim()).join(' ') : '';
    if (name && drop(name, value)) removed = true;
    else keep.push(...field);
    field = [];
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && field.length > 0) field.push(line);
    else {
      flush();
      field.push(line);
    }
  }
  flush();
  return removed ? Buffer.concat([Buffer.from(keep.join('\r\n'), 'latin1'), raw.subarray(end)]) : raw;
}

export function hasHeader(raw: Buffer, name: string): boolean {
  return headerValues(raw, name).length > 0;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** RFC 5322 §3.3 date-time in UTC (every Received field has one: the tables are made once, not per message). */
export function rfc5322Date(d = new Date()): string {
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

export function newMessageId(hostname: string): string {
  return `<${Date.now().toString(36)}.${randomBytes(8).toString('hex')}@${hostname}>`;
}

/** Strips anything that could break a header line out of client-supplied text. */
export function clean(s: string): string {
  return s.replace(/[\x00-\x1f\x7f()\\]/g, '').slice(0, 255);
}

/**
 * RFC 5322 §2.2.3: a line that starts with a space or tab continues the
 * field before it. A message whose very first line does would continue
 * whatever field the server puts in front of it (our Received, spam verdict
 * or generated Date), so such a message is refused, not folded.
 */
export function startsWithWhitespace(raw: Buffer): boolean {
  return raw.length > 0 && (raw[0] === 0x20 || raw[0] === 0x09);
}
