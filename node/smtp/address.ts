/**
 * @module node/smtp/address
 * Envelope address checks for MAIL FROM and RCPT TO. Strict on purpose:
 * every legacy routing syntax that has ever turned a mail server into an
 * open relay is refused before the directory is even asked — source routes
 * (RFC 5321 §4.1.2, `@a:b@c`), the percent hack (`user%other@us`), UUCP bang
 * paths (`other!user@us`), quoted local parts (`"user@other"@us`), trailing
 * and doubled dots, IP literals. Pure: no I/O.
 */
import { replies, type SmtpError } from './errors.js';

export interface EnvelopeAddress {
  local: string;
  domain: string;
  /** local@domain, domain lower-cased. */
  address: string;
}

const LOCAL = /^[A-Za-z0-9#$&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9#$&'*+/=?^_`{|}~-]+)*$/;
const LOCAL_UTF8 = /^[\p{L}\p{N}#$&'*+/=?^_`{|}~-]+(\.[\p{L}\p{N}#$&'*+/=?^_`{|}~-]+)*$/u;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Parses an envelope address or returns the SmtpError that refuses it.
 * Characters that mean "route elsewhere" anywhere in the address are a relay
 * attempt (5.7.1); other malformed input is a syntax refusal (5.1.3).
 */
export function parseEnvelopeAddress(raw: string, opts: { utf8?: boolean } = {}): EnvelopeAddress | SmtpError {
  const addr = raw.trim();
  if (addr.length === 0 || addr.length > 254) return replies.badAddress(addr);
  if (/[%!:"\\\s<>[\]()]/.test(addr) || addr.startsWith('@')) return replies.relayDenied(addr);
  const at = addr.lastIndexOf('@');
  if (at <= 0 || addr.indexOf('@') !== at) return replies.relayDenied(addr);
  const local = addr.slice(0, at);
  const domain = addr.slice(at + 1).toLowerCase();
  if (local.length > 64) return replies.badAddress(addr);
  if (!(opts.utf8 ? LOCAL_UTF8 : LOCAL).test(local)) return replies.badAddress(addr);
  if (domain.endsWith('.') || domain.startsWith('.') || domain.includes('..')) return replies.relayDenied(addr);
  const ascii = toAsciiDomain(domain);
  if (!ascii || ascii.length > 253 || !ascii.includes('.') || !ascii.split('.').every((l) => LABEL.test(l)) || /^[0-9.]+$/.test(ascii)) {
    return replies.badAddress(addr);
  }
  return { local, domain: ascii, address: `${local}@${ascii}` };
}

function toAsciiDomain(d: string): string | null {
  if (/^[\x00-\x7f]*$/.test(d)) return d;
  try {
    return new URL(`http://${d}/`).hostname || null;
  } catch {
    return null;
  }
}

/** ESMTP parameters we advertise (RFC 1870 SIZE, 6152 BODY, 6531 SMTPUTF8, 3461 DSN, 4954 AUTH). */
export const MAIL_PARAMS: ReadonlySet<string> = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID', 'AUTH']);
export const RCPT_PARAMS: ReadonlySet<string> = new Set(['NOTIFY', 'ORCPT']);

/**
 * RFC 5321 §4.1.1.11: a parameter we do not recognise gets 555. smtp-server
 * passes unknown ones through silently; a client relying on one (say, an
 * extension we never offered) must learn it was not honoured.
 */
export function unknownParam(args: Record<string, unknown> | false | undefined, known: ReadonlySet<string>): SmtpError | null {
  for (const key of Object.keys(args || {})) {
    if (!known.has(key.toUpperCase())) return replies.unknownParam(key);
  }
  return null;
}

/**
 * Tracks CR and LF across DATA chunks and reports the first bare one: a CR
 * not followed by LF, or an LF not preceded by CR. Refusing such messages is
 * the SMTP smuggling fix (a receiver downstream may treat `\n.\n` as the end
 * of data even though we did not).
 */
export class LineEndingCheck {
  private lastWasCr = false;
  bad = false;

  push(chunk: Buffer): boolean {
    if (this.bad) return false;
    if (chunk.length === 0) return true;
    let start = 0;
    if (this.lastWasCr) {
      if (chunk[0] !== 0x0a) return this.fail();
      this.lastWasCr = false;
      start = 1;
    }
    // Native searches, not a loop over every byte: a 50 MB message is checked at memchr speed.
    // Every LF follows a CR (one that ended the previous chunk was consumed above)…
    for (let i = chunk.indexOf(0x0a, start); i !== -1; i = chunk.indexOf(0x0a, i + 1)) if (i === 0 || chunk[i - 1] !== 0x0d) return this.fail();
    // …and every CR precedes an LF, perhaps the first byte of the next chunk.
    for (let i = chunk.indexOf(0x0d, start); i !== -1; i = chunk.indexOf(0x0d, i + 1)) {
      if (i === chunk.length - 1) this.lastWasCr = true;
      else if (chunk[i + 1] !== 0x0a) return this.fail();
    }
    return true;
  }

  /** At the end of DATA: a CR left dangling is bare too. */
  end(): boolean {
    if (this.lastWasCr) return this.fail();
    return !this.bad;
  }

  private fail(): false {
    this.bad = true;
    return false;
  }
}
