/**
 * @module node/imap/commands/idle
 * RFC 9051 §6.3.13 IDLE (RFC 2177): pending changes go out at once, then
 * every change as it commits, until the client sends DONE. The idle timer
 * (30 minutes) is the connection's, reset by each line the client sends.
 */
import { ImapError } from '../errors.js';
import type { Handler } from '../session.js';

export const idle: Handler<'IDLE'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    s.send('+ idling\r\n');
    s.flush(true);
    s.idling = true;
    s.continuation = (line) => {
      s.idling = false;
      if (line.trim().toUpperCase() !== 'DONE') {
        s.reply(cmd.tag, new ImapError('BAD', null, 'expected DONE to end IDLE'));
        return;
      }
      s.flush(true);
      s.send(`${cmd.tag} OK IDLE terminated\r\n`);
    };
  },
};
