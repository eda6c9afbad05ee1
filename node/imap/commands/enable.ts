/**
 * @module node/imap/commands/enable
 * RFC 5161 ENABLE (RFC 9051 §6.3.1): CONDSTORE, QRESYNC (which implies
 * CONDSTORE, RFC 7162 §3.2.3), UTF8=ACCEPT (RFC 6855) and IMAP4rev2. Only
 * extensions newly enabled are listed in the ENABLED response.
 */
import type { Handler } from '../session.js';

const KNOWN = new Set(['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2']);

export const enable: Handler<'ENABLE'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    const now: string[] = [];
    for (const c of cmd.caps) {
      if (!KNOWN.has(c) || s.enabled.has(c)) continue;
      s.enabled.add(c);
      now.push(c === 'IMAP4REV2' ? 'IMAP4rev2' : c);
      if (c === 'QRESYNC' && !s.enabled.has('CONDSTORE')) s.enabled.add('CONDSTORE');
    }
    s.untagged(`ENABLED${now.map((c) => ' ' + c).join('')}`);
    if (s.enabled.has('CONDSTORE')) s.enableCondstore();
  },
};
