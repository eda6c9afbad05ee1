/**
 * @module node/imap
 * The IMAP4rev2 server (RFC 9051, serving IMAP4rev1 clients too):
 * `startImap(deps, listen)` as node/main.ts wires every listener.
 */
export { startImap, type ImapDeps, type ImapListen } from './server.js';
export { DEFAULT_IMAP_LIMITS, type ImapLimits } from './server-context.js';
export { ImapError } from './errors.js';
export { parseCommand, type Command } from './parse.js';
export { Receiver } from './receiver.js';
