/**
 * @module node/imap/commands/quota
 * RFC 9208 QUOTA: one root ("") per account covering all folders, with the
 * STORAGE resource in KiB. SETQUOTA is refused: quotas are the admin's.
 */
import { ImapError } from '../errors.js';
import type { Handler, Session } from '../session.js';

function quotaLine(s: Session): string {
  const q = s.port.quota();
  if (!q.limitBytes) return 'QUOTA "" ()';
  return `QUOTA "" (STORAGE ${Math.ceil(q.usedBytes / 1024)} ${Math.floor(q.limitBytes / 1024)})`;
}

export const getquota: Handler<'GETQUOTA'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    if (cmd.root !== '') throw new ImapError('NO', 'NONEXISTENT', 'the only quota root is ""');
    s.untagged(quotaLine(s));
  },
};

export const getquotaroot: Handler<'GETQUOTAROOT'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    const f = s.port.folders.require(cmd.root);
    s.untagged('QUOTAROOT ', ...s.wireName(f.name), ' ""');
    s.untagged(quotaLine(s));
  },
};

export const setquota: Handler<'SETQUOTA'> = {
  states: ['auth', 'selected'],
  handle() {
    throw new ImapError('NO', 'NOPERM', 'quotas are set by the administrator (haven account quota)');
  },
};
