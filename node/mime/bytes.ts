/**
 * @module node/mime/bytes
 * Byte-level helpers shared by the parser and the section resolver: turning
 * header bytes into strings without mangling 8-bit input, line counting,
 * and the two transfer decodings (base64, quoted-printable). Everything here
 * works on Buffers so the raw message is never re-encoded.
 */
import { isUtf8 } from 'node:buffer';
import { decode as iconvDecode } from 'libmime/lib/charset.js';

export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const HT = 0x09;

interface FastSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/**
 * buf.toString('latin1', start, end) without its argument checks, which cost
 * as much as the copy for the short slices headers are made of. Callers pass
 * ranges already inside the buffer.
 */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as FastSlices).latin1Slice(start, end);
}

/**
 * Header bytes to a string. RFC 6532 allows raw UTF-8 in headers; anything
 * else 8-bit is legacy junk, read as latin1 so every byte survives as one
 * code point instead of becoming U+FFFD.
 */
export function headerString(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) {
      return isUtf8(buf.subarray(start, end)) ? (buf as unknown as FastSlices).utf8Slice(start, end) : latin1(buf, start, end);
    }
  }
  return latin1(buf, start, end);
}

/**
 * IMAP's body line count: the number of LFs in the body. A last line
 * without a line break is not counted; in a multipart it lost its CRLF to
 * the boundary. Dovecot and Cyrus count the same way, and clients compare.
 */
export function countLines(buf: Buffer, start: number, end: number): number {
  if (end <= start) return 0;
  const view = buf.subarray(0, end);
  let n = 0;
  let p = view.indexOf(LF, start);
  while (p !== -1) {
    n++;
    p = view.indexOf(LF, p + 1);
  }
  return n;
}

/** Lenient base64: Node skips whitespace and characters outside the alphabet. */
export function decodeBase64(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1'), 'base64');
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Quoted-printable per RFC 2045 §6.7: `=XX` escapes, soft line breaks
 * (`=` then optional whitespace then a line break), and trailing
 * whitespace on a line dropped because transports add it. A stray `=` is
 * kept as is rather than rejected: broken encoders are common. Works a line
 * at a time; lines without `=` are copied in bulk.
 */
export function decodeQuotedPrintable(bytes: Buffer): Buffer {
  const n = bytes.length;
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  let ls = 0;
  // Next '=' at or after the current line, found once and reused, so a run
  // of lines without any '=' costs one search in total.
  let eqAt = -2;
  while (ls < n) {
    const nl = bytes.indexOf(LF, ls);
    const next = nl === -1 ? n : nl + 1;
    let le = nl === -1 ? n : nl > ls && bytes[nl - 1] === CR ? nl - 1 : nl;
    const breakStart = le;
    while (le > ls && (bytes[le - 1] === SP || bytes[le - 1] === HT)) le--;
    const soft = le > ls && bytes[le - 1] === 0x3d;
    const contentEnd = soft ? le - 1 : le;
    if (eqAt !== -1 && eqAt < ls) eqAt = bytes.indexOf(0x3d, ls);
    if (eqAt === -1 || eqAt >= contentEnd) {
      // No escapes on this line: copy it whole.
      if (contentEnd - ls > 16) o += bytes.copy(out, o, ls, contentEnd);
      else for (let k = ls; k < contentEnd; k++) out[o++] = bytes[k];
    } else {
      for (let k = ls; k < contentEnd; k++) {
        const c = bytes[k];
        if (c !== 0x3d) {
          out[o++] = c;
          continue;
        }
        const h1 = k + 1 < contentEnd ? hexValue(bytes[k + 1]) : -1;
        const h2 = h1 >= 0 && k + 2 < contentEnd ? hexValue(bytes[k + 2]) : -1;
        if (h2 >= 0) {
          out[o++] = (h1 << 4) | h2;
          k += 2;
        } else {
          out[o++] = c;
        }
      }
    }
    if (!soft) for (let k = breakStart; k < next; k++) out[o++] = bytes[k];
    ls = next;
  }
  return out.subarray(0, o);
}

/**
 * Bytes in a declared charset to a string, through iconv-lite via libmime:
 * it resolves WHATWG aliases (iso-8859-1 means windows-1252, as in every
 * mail client), handles the Japanese charsets, and refuses UTF-7 (a known
 * filter-evasion trick) by reading it as UTF-8. Not TextDecoder: Node 20's
 * windows-1252 decoder drops bytes 0x80-0x9F (€, curly quotes), which are
 * everywhere in Western mail.
 */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const label = (charset ?? '').trim().toLowerCase();
  if (label === '' || label === 'utf-8' || label === 'utf8' || label === 'us-ascii' || label === 'ascii') {
    return bytes.toString('utf8');
  }
  try {
    return iconvDecode(bytes, label);
  } catch {
    return bytes.toString('utf8');
  }
}
