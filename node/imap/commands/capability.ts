/**
 * @module node/imap/commands/capability
 * RFC 9051 §6.1.1 CAPABILITY, §6.1.2 NOOP (and §6.4.1 CHECK, which IMAP4rev2
 * folded into NOOP): the list depends on TLS and login state. NOOP does
 * nothing itself; the session's flush after it delivers pending changes.
 */
import type { Handler } from '../session.js';

export const capability: Handler<'CAPABILITY'> = {
  states: ['notauth', 'auth', 'selected'],
  handle(s) {
    s.untagged(`CAPABILITY ${s.ctx.capabilities(s).join(' ')}`);
  },
};

export const noop: Handler<'NOOP' | 'CHECK'> = {
  states: ['notauth', 'auth', 'selected'],
  handle() {},
};

export const check: Handler<'CHECK'> = { states: ['selected'], handle() {} };
