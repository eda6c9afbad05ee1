/**
 * @module node/transfer/utf7
 * IMAP's modified UTF-7 for mailbox names (RFC 3501 §5.1.3), which Maildir++
 * folder directories also use (Dovecot, Courier): printable ASCII stands for
 * itself except `&`, written `&-`; anything else is UTF-16 in base64 with `,`
 * for `/`, between `&` and `-`. Pure.
 */

/** Decodes a modified UTF-7 name; text that is not valid modified UTF-7 is returned as it is (a UTF-8 name). */
export function decodeUtf7(name: string): string {
  if (!name.includes('&')) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c !== '&') {
      out += c;
      continue;
    }
    const end = name.indexOf('-', i + 1);
    if (end < 0) return name;
    const b64 = name.slice(i + 1, end);
    if (b64 === '') out += '&';
    else {
      if (!/^[A-Za-z0-9+,]+$/.test(b64)) return name;
      const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
      if (bytes.length % 2 !== 0) return name;
      for (let j = 0; j < bytes.length; j += 2) out += String.fromCharCode(bytes.readUInt16BE(j));
    }
    i = end;
  }
  return out;
}

/** Encodes a name in modified UTF-7; `alsoShift` names ASCII characters to encode too (a Maildir++ separator). */
export function encodeUtf7(name: string, alsoShift = ''): string {
  let out = '';
  let run = '';
  const flush = () => {
    if (!run) return;
    const buf = Buffer.alloc(run.length * 2);
    for (let j = 0; j < run.length; j++) buf.writeUInt16BE(run.charCodeAt(j), j * 2);
    out += '&' + buf.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    run = '';
  };
  for (const ch of name) {
    const code = ch.charCodeAt(0);
    const direct = code >= 0x20 && code <= 0x7e && !alsoShift.includes(ch);
    if (direct) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else run += ch;
  }
  flush();
  return out;
}
