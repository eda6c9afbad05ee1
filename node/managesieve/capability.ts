/**
 * @module node/managesieve/capability
 * The SIEVE capability string (RFC 5804 §1.7): every extension a script may require.
 */
import { EXTENSIONS } from '../sieve/index.js';

export const SIEVE_CAPABILITY = EXTENSIONS.filter((e) => !e.startsWith('comparator-i;octet') && !e.startsWith('comparator-i;ascii-casemap')).join(' ');
