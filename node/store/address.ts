/**
 * @module node/store/address
 * Address and domain name checks shared by the directory and the protocols.
 * Deliberately strict for what we host (what an operator types), and the
 * single place that decides what "the same address" means: case-insensitive.
 */
import { domainToASCII } from 'node:url';
import { InvalidNameError } from './errors.js';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;

export function validateDomainName(name: string): string {
  const ascii = domainToASCII(name.trim().toLowerCase().replace(/\.$/, ''));
  if (!ascii || ascii.length > 253 || !ascii.split('.').every((l) => LABEL.test(l)) || (!ascii.includes('.') && ascii !== 'localhost')) {
    throw new InvalidNameError(`"${name}" is not a valid domain name (expected something like example.org)`);
  }
  return ascii;
}

export function splitAddress(address: string, opts: { allowWildcard?: boolean } = {}): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) throw new InvalidNameError(`"${address}" is not an email address (expected name@example.org)`);
  const local = address.slice(0, at).toLowerCase();
  const domain = validateDomainName(address.slice(at + 1));
  if (!(opts.allowWildcard && local === '*') && (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..'))) {
    throw new InvalidNameError(`"${address}" has an invalid local part`);
  }
  return { local, domain };
}

export function normalizeAddress(address: string): string {
  const { local, domain } = splitAddress(address.trim());
  return `${local}@${domain}`;
}
