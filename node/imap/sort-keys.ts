/**
 * @module node/imap/sort-keys
 * What SORT (RFC 5256 §3, RFC 5957) and THREAD (RFC 5256 §2.1, §4) compare,
 * derived from a stored envelope when asked, so mail delivered before a rule
 * was corrected sorts by the corrected rule. Pure.
 */
import { decodeWords, subjectInfo, type Address, type Envelope, type SubjectInfo } from '../mime/index.js';

/** Cap on the subject fed to base-subject extraction (each of its passes is linear in it). */
const SUBJECT_CAP = 4096;

/**
 * i;ascii-casemap (RFC 4790 §9.2), the collation RFC 5256 compares strings
 * with: ASCII letters fold to upper case; every other character is itself.
 */
export function asciiCasemap(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/** RFC 5256 §2.1 base subject (encoded words decoded first, step 1), casemapped, and whether it was a reply or forward. */
export function subjectKey(e: Envelope): SubjectInfo {
  const decoded = decodeWords(e.subject ?? '');
  const info = subjectInfo(decoded.length > SUBJECT_CAP ? decoded.slice(0, SUBJECT_CAP) : decoded);
  return { base: asciiCasemap(info.base), refwd: info.refwd };
}

/** The first real address of a list: group markers (host null) are not addresses. */
function firstAddress(list: Address[] | undefined): Address | null {
  for (const a of list ?? []) if (a.host !== null) return a;
  return null;
}

/** RFC 5256 §3 FROM/TO/CC: the addr-mailbox (local part) of the first address; "" when there is none. */
export function mailboxKey(list: Address[] | undefined): string {
  return asciiCasemap(firstAddress(list)?.mailbox ?? '');
}

/**
 * RFC 5957 §3 DISPLAYFROM/DISPLAYTO: the decoded display name of the first
 * address, or when it has none (or an empty one) the address itself,
 * addr-mailbox@addr-host.
 */
export function displayKey(list: Address[] | undefined): string {
  const a = firstAddress(list);
  if (!a) return '';
  if (a.name && a.name.trim() !== '') return asciiCasemap(a.name);
  return asciiCasemap(a.host ? `${a.mailbox ?? ''}@${a.host}` : (a.mailbox ?? ''));
}

/**
 * Compares two keys: numbers by value, strings (casemapped when the key was
 * made) by UTF-16 code unit, which is UTF-8 octet order for every character
 * below U+E000.
 */
export function compareKeys(x: string | number, y: string | number): number {
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  return x < y ? -1 : x > y ? 1 : 0;
}
