/**
 * @module node/imap/commands/id
 * RFC 2971 ID: logs what the client says it is (useful when a client
 * misbehaves) and names the server, without a version number to fingerprint.
 * RFC 2342 NAMESPACE: one personal namespace, no prefix, "/" separator.
 */
import type { Handler } from '../session.js';

export const id: Handler<'ID'> = {
  states: ['notauth', 'auth', 'selected'],
  handle(s, cmd) {
    if (cmd.params) s.log.info({ client: cmd.params }, 'client id');
    s.untagged('ID ("name" "Haven")');
  },
};

export const namespace: Handler<'NAMESPACE'> = {
  states: ['auth', 'selected'],
  handle(s) {
    s.untagged('NAMESPACE (("" "/")) NIL NIL');
  },
};
