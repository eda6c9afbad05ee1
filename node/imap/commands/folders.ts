/**
 * @module node/imap/commands/folders
 * RFC 9051 §6.3.4 CREATE (with CREATE-SPECIAL-USE, RFC 6154 §3), §6.3.5
 * DELETE, §6.3.6 RENAME, §6.3.7 SUBSCRIBE, §6.3.8 UNSUBSCRIBE. The store
 * creates missing parents, keeps children on DELETE, and moves INBOX's
 * messages on RENAME INBOX, as the RFC asks.
 */
import { ImapError } from '../errors.js';
import type { Handler } from '../session.js';

export const create: Handler<'CREATE'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    const name = cmd.mailbox.replace(/\/+$/, '');
    if (!name) throw new ImapError('NO', 'CANNOT', 'give the folder a name');
    if (name === 'INBOX') throw new ImapError('NO', 'ALREADYEXISTS', 'INBOX always exists');
    s.port.folders.create(name, cmd.specialUse);
  },
};

export const del: Handler<'DELETE'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    if (s.state.kind === 'selected' && s.sel.name === s.port.folders.require(cmd.mailbox).name) {
      throw new ImapError('NO', 'INUSE', 'the folder is selected; CLOSE or UNSELECT it first');
    }
    s.port.folders.delete(cmd.mailbox);
  },
};

export const rename: Handler<'RENAME'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    s.port.folders.rename(cmd.from, cmd.to);
  },
};

export const subscribe: Handler<'SUBSCRIBE' | 'UNSUBSCRIBE'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    s.port.folders.setSubscribed(cmd.mailbox, cmd.name === 'SUBSCRIBE');
  },
};
