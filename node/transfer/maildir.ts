/**
 * @module node/transfer/maildir
 * Maildir names, pure (cr.yp.to/proto/maildir.html; Courier's Maildir++;
 * Dovecot's keyword file):
 *   - a file name is `<unique>:2,<flags>` with the flag letters in ASCII
 *     order: D draft, F flagged, P passed, R replied, S seen, T trashed;
 *     Dovecot adds lowercase letters a..z for keywords, numbered by the
 *     folder's `dovecot-keywords` file (`<n> <keyword>` per line);
 *   - Maildir++ keeps INBOX at the root and each other folder in a
 *     directory `.Sub.Folder` ('.' separates levels), the name in modified
 *     UTF-7 (RFC 3501 §5.1.3).
 */
import { decodeUtf7, encodeUtf7 } from './utf7.js';

const LETTER_TO_FLAG: Record<string, string> = { D: '\\Draft', F: '\\Flagged', P: '$Forwarded', R: '\\Answered', S: '\\Seen', T: '\\Deleted' };
const FLAG_TO_LETTER: Record<string, string> = Object.fromEntries(Object.entries(LETTER_TO_FLAG).map(([l, f]) => [f.toLowerCase(), l]));

/** The info part of a file name (`:2,` or `!2,` on systems where ':' is not allowed). */
const INFO = /[:!]2,([A-Za-z]*)$/;

/** IMAP flags and keywords of a Maildir file name; `keywords` is the folder's dovecot-keywords list by index. */
export function flagsFromName(name: string, keywords: readonly string[] = []): string[] {
  const m = INFO.exec(name);
  if (!m) return [];
  const out: string[] = [];
  for (const ch of m[1]) {
    if (LETTER_TO_FLAG[ch]) out.push(LETTER_TO_FLAG[ch]);
    else if (ch >= 'a' && ch <= 'z') {
      const kw = keywords[ch.charCodeAt(0) - 97];
      if (kw) out.push(kw);
    }
  }
  return [...new Set(out)];
}

/** The `:2,<letters>` suffix for IMAP flags; keywords get letters from (and are added to) `keywords`, at most 26. */
export function nameInfo(flags: readonly string[], keywords: string[]): string {
  const letters = new Set<string>();
  for (const f of flags) {
    const l = FLAG_TO_LETTER[f.toLowerCase()];
    if (l) letters.add(l);
    else if (!f.startsWith('\\') && f !== '$Forwarded') {
      let i = keywords.indexOf(f);
      if (i < 0 && keywords.length < 26) i = keywords.push(f) - 1;
      if (i >= 0) letters.add(String.fromCharCode(97 + i));
    }
  }
  return ':2,' + [...letters].sort().join('');
}

/** The `dovecot-keywords` file's list: index → keyword. */
export function parseKeywordsFile(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^(\d+) (\S+)$/.exec(line.trim());
    if (m && Number(m[1]) < 26) out[Number(m[1])] = m[2];
  }
  return out;
}

export function formatKeywordsFile(keywords: readonly string[]): string {
  return keywords.map((k, i) => `${i} ${k}\n`).join('');
}

/** The Haven folder of a Maildir++ directory name (`.Sub.Folder` → `Sub/Folder`); null for something that is not a folder. */
export function folderFromDir(dir: string): string | null {
  if (!dir.startsWith('.') || dir === '.' || dir === '..') return null;
  const parts = dir.slice(1).split('.');
  if (parts.some((p) => p === '')) return null;
  const name = parts.map(decodeUtf7).join('/');
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** The Maildir++ directory for a Haven folder (INBOX is the root: ''); a '.' inside a name is shifted into UTF-7 so it is not read as a level. */
export function dirForFolder(folder: string): string {
  if (folder === 'INBOX') return '';
  return '.' + folder.split('/').map((p) => encodeUtf7(p, '.')).join('.');
}

/** A unique Maildir file name for the n-th message written (time, sequence, host), with the size hint Dovecot reads. */
export function uniqueName(date: number, n: number, size: number, host = 'haven'): string {
  return `${Math.floor(date / 1000)}.M${n}P${process.pid}.${host},S=${size}`;
}
