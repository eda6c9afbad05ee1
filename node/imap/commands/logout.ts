/**
 * @module node/imap/commands/logout
 * RFC 9051 §6.1.3 LOGOUT: BYE, then the tagged OK, then the connection
 * closes; the mailbox lease is released by Session.end.
 */
import type { Handler } from '../session.js';

export const logout: Handler<'LOGOUT'> = {
  states: ['notauth', 'auth', 'selected'],
  handle(s, cmd) {
    s.untagged('BYE logging out');
    s.send(`${cmd.tag} OK LOGOUT completed\r\n`);
    s.end();
    s.io.close();
  },
};
