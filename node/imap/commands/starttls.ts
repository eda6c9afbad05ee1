/**
 * @module node/imap/commands/starttls
 * RFC 9051 §6.2.1 STARTTLS: the OK goes out in plaintext, then the handshake;
 * anything the client pipelined after the command is discarded so it cannot
 * be injected into the TLS session (CVE-2011-0411). RFC 4978 COMPRESS=DEFLATE
 * is the same shape: OK, then both directions switch to raw deflate.
 */
import { ImapError } from '../errors.js';
import type { Handler } from '../session.js';

export const starttls: Handler<'STARTTLS'> = {
  states: ['notauth'],
  async handle(s, cmd) {
    if (s.io.secure) throw new ImapError('BAD', null, 'TLS is already active');
    s.send(`${cmd.tag} OK begin TLS now\r\n`);
    s.continuation = null;
    s.suppressTagged = true;
    await s.io.startTls();
  },
};

export const compress: Handler<'COMPRESS'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    if (cmd.mechanism !== 'DEFLATE') throw new ImapError('BAD', null, `${cmd.mechanism} is not offered; use COMPRESS DEFLATE`);
    if (s.io.compressed) throw new ImapError('NO', 'COMPRESSIONACTIVE', 'compression is already on');
    s.send(`${cmd.tag} OK DEFLATE active\r\n`);
    s.io.startCompression();
    s.suppressTagged = true;
  },
};
