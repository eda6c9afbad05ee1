/**
 * @module node/imap/utf7
 * Modified UTF-7 mailbox names (RFC 3501 §5.1.3) for clients that have not
 * enabled UTF8=ACCEPT: names are stored as UTF-8 and converted at the wire.
 * Decoding is strict: each encoded run must be the one and only spelling of
 * its characters (what encodeMailbox would write), so two different names
 * on the wire can never land in one folder (`&ZZZ-` and `&ZZY-` differ only
 * in padding bits), and a name that is not valid is refused, not guessed at.
 */
import { ImapError } from './errors.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(why: string): ImapError {
  return new ImapError('BAD', null, `mailbox name is not valid modified UTF-7 (${why}, RFC 3501 §5.1.3); enable UTF8=ACCEPT or encode it as the RFC says`);
}

export function decodeMailbox(s: string): string {
  if (!s.includes('&')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '&') {
      out += c;
      continue;
    }
    const end = s.indexOf('-', i + 1);
    if (end === -1) throw invalid('"&" starts an encoded run that never ends with "-"');
    const b64 = s.slice(i + 1, end);
    if (!b64) out += '&';
    else {
      if (!/^[A-Za-z0-9+,]+$/.test(b64)) throw invalid('an encoded run holds a character outside modified BASE64');
      const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
      if (bytes.length % 2) throw invalid('an encoded run is not whole UTF-16 characters');
      const text = bytes.swap16().toString('utf16le');
      if (LONE_SURROGATE.test(text)) throw invalid('an encoded run holds half a surrogate pair');
      if (/[\x20-\x7e]/.test(text)) throw invalid('printable US-ASCII must represent itself, not be encoded');
      // Only the canonical spelling: no stray padding bits, no second run straight after this one.
      if (encodeMailbox(text) !== `&${b64}-` || s[end + 1] === '&' && s[end + 2] !== '-') throw invalid('an encoded run is not in its one canonical form');
      out += text;
    }
    i = end;
  }
  return out;
}

export function encodeMailbox(s: string): string {
  if (/^[\x20-\x25\x27-\x7e]*$/.test(s)) return s;
  let out = '';
  let run = '';
  const flush = () => {
    if (!run) return;
    const b = Buffer.from(run, 'utf16le').swap16();
    out += '&' + b.toString('base64').replace(/\//g, ',').replace(/=+$/, '') + '-';
    run = '';
  };
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code <= 0x7e) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else run += ch;
  }
  flush();
  return out;
}
