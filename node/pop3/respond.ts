/**
 * @module node/pop3/respond
 * Reply encoders: status lines, multi-line responses, and messages as they go
 * on the wire (RFC 1939 §3): every line ends in CRLF (bare LF in stored mail
 * is normalized), lines starting with '.' are byte-stuffed, and the
 * terminator ".\r\n" always sits on a line of its own. Pure: no I/O.
 */
import type { Pop3Error } from './errors.js';

const CRLF = Buffer.from('\r\n');
const DOT = Buffer.from('.');
const TERMINATOR = Buffer.from('.\r\n');

/** Status lines must stay single lines whatever text a caller passes in. */
function clean(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

export function ok(text = ''): Buffer {
  return Buffer.from(text ? `+OK ${clean(text)}\r\n` : '+OK\r\n');
}

export function fail(e: Pop3Error): Buffer {
  return Buffer.from(`-ERR ${e.code ? `[${e.code}] ` : ''}${clean(e.text)}\r\n`);
}

/** SASL continuation (RFC 5034 §4): "+ " followed by base64 challenge, empty for PLAIN. */
export function continuation(challenge = ''): Buffer {
  return Buffer.from(`+ ${challenge}\r\n`);
}

/** A multi-line response made of short text lines (CAPA, LIST, UIDL). */
export function multiline(first: string, lines: readonly string[]): Buffer {
  const body = lines.map((l) => (l.startsWith('.') ? '.' + l : l) + '\r\n').join('');
  return Buffer.from(`+OK ${clean(first)}\r\n${body}.\r\n`);
}

export interface WireMessage {
  /** Normalized, byte-stuffed lines, each ending in CRLF (the terminator not included). */
  body: Buffer[];
  /** Octets of the normalized message before stuffing: what "+OK n octets" reports. */
  octets: number;
}

/**
 * A stored message as RETR (bodyLines undefined) or TOP (headers, the blank
 * line, and at most bodyLines lines of body, RFC 1939 §7) sends it. Unchanged
 * runs of the message are passed through as views; only bare LFs and leading
 * dots cost a split.
 */
export function wireMessage(raw: Buffer, bodyLines?: number): WireMessage {
  const out: Buffer[] = [];
  let run = 0;
  let octets = 0;
  let stuffed = 0;
  let inHeader = true;
  let left = bodyLines ?? Infinity;
  let pos = 0;
  const flush = (end: number) => {
    if (end > run) out.push(raw.subarray(run, end));
  };
  while (pos < raw.length) {
    if (!inHeader && left <= 0) break;
    const lf = raw.indexOf(0x0a, pos);
    const end = lf === -1 ? raw.length : lf;
    if (raw[pos] === 0x2e) {
      flush(pos);
      out.push(DOT);
      stuffed++;
      run = pos;
    }
    const hasCr = end > pos && raw[end - 1] === 0x0d;
    if (lf === -1 || !hasCr) {
      // Bare LF or a last line without any line end: supply the CRLF.
      flush(hasCr ? end - 1 : end);
      out.push(CRLF);
      run = lf === -1 ? raw.length : lf + 1;
    }
    const empty = end - pos - (hasCr ? 1 : 0) === 0;
    if (inHeader) {
      if (empty) inHeader = false;
    } else left--;
    pos = lf === -1 ? raw.length : lf + 1;
  }
  flush(pos);
  for (const b of out) octets += b.length;
  return { body: out, octets: octets - stuffed };
}

/** "+OK <n> octets", the message, and the terminator, as one buffer (one write, one syscall). */
export function messageResponse(m: WireMessage): Buffer {
  return Buffer.concat([ok(`${m.octets} octets`), ...m.body, TERMINATOR]);
}
