/**
 * @module node/pop3
 * POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), AUTH PLAIN
 * (RFC 5034) and implicit TLS, over the store's INBOX. node/main.ts wires it
 * with `startPop3`.
 */
export { startPop3, type Pop3Deps, type Pop3Listen, type Pop3Server } from './server.js';
export { DEFAULT_LIMITS, type Pop3Limits } from './state.js';
export { Pop3Error, type Pop3RespCode } from './errors.js';
export { uidlOf } from './store-maildrop.js';
export type { Maildrop, MaildropEntry, Pop3Backend } from './port.js';
