/**
 * @module node/mime/words
 * RFC 2047 encoded words (`=?charset?Q?...?=`) in display names, subjects
 * and header text. Our own decoder rather than libmime's: this runs for
 * several header fields of every delivered message and is several times
 * cheaper. Adjacent words in one charset are joined as bytes before
 * decoding, so a multi-byte character split across two words survives;
 * whitespace between adjacent encoded words is dropped (§6.2). Never
 * throws; malformed words stay as they are.
 */
import { decodeBase64, decodeCharset } from './bytes.js';

// charset, optional RFC 2231 language suffix, encoding, text.
const WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=/g;
const WS_ONLY = /^[ \t\r\n]*$/;

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The Q encoding of §4.2: `_` is a space, `=XX` a byte, anything else itself. */
function decodeQ(text: string): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f) out[o++] = 0x20;
    else if (c === 0x3d && i + 2 < text.length && hex(text.charCodeAt(i + 1)) >= 0 && hex(text.charCodeAt(i + 2)) >= 0) {
      out[o++] = (hex(text.charCodeAt(i + 1)) << 4) | hex(text.charCodeAt(i + 2));
      i += 2;
    } else out[o++] = c & 0xff;
  }
  return out.subarray(0, o);
}

export function decodeWords(s: string): string {
  if (s.indexOf('=?') === -1) return s;
  let out = '';
  let last = 0;
  let charset = '';
  let pending: Buffer[] = [];
  const flush = () => {
    if (pending.length > 0) out += decodeCharset(pending.length === 1 ? pending[0] : Buffer.concat(pending), charset);
    pending = [];
  };
  WORD.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = WORD.exec(s)) !== null) {
    const between = s.slice(last, m.index);
    const adjacent = pending.length > 0 && WS_ONLY.test(between);
    const cs = m[1].toLowerCase();
    if (!adjacent || cs !== charset) {
      flush();
      if (!adjacent) out += between;
      charset = cs;
    }
    pending.push(m[2] === 'b' || m[2] === 'B' ? decodeBase64(Buffer.from(m[3], 'latin1')) : decodeQ(m[3]));
    last = WORD.lastIndex;
  }
  flush();
  return out + s.slice(last);
}
