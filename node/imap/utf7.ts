/**
 * @module node/imap/utf7
 * Modified UTF-7 mailbox names (RFC 3501 §5.1.3) for clients that have not
 * enabled UTF8=ACCEPT: names are stored as UTF-8 and converted at the wire.
 * A name that is not valid modified UTF-7 is taken as it came.
 */
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
    if (end === -1) return s;
    const b64 = s.slice(i + 1, end);
    if (!b64) out += '&';
    else {
      if (!/^[A-Za-z0-9+,]+$/.test(b64)) return s;
      const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
      if (bytes.length % 2) return s;
      out += bytes.swap16().toString('utf16le');
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
