/**
 * @module node/managesieve
 * ManageSieve (RFC 5804): owners list, upload, check, activate, rename and
 * delete their Sieve scripts from a mail client. Scripts live in the
 * directory (node/store), checked by node/sieve's compiler.
 */
export { startManageSieve, type ManageSieveDeps, type ManageSieveLimits, type ManageSieveServer } from './server.js';
export { SIEVE_CAPABILITY } from './capability.js';
