/**
 * @module node/mime/words
 * RFC 2047 encoded words (`=?charset?Q?...?=`) in display names, subjects
 * and header text, decoded through libmime (which joins adjacent words and
 * split multi-byte characters). Only called when a value contains `=?`, and
 * never throws: a value libmime cannot handle is returned as it came.
 */
import libmime from 'libmime';

export function decodeWords(s: string): string {
  if (s.indexOf('=?') === -1) return s;
  try {
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}
