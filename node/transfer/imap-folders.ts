/**
 * @module node/transfer/imap-folders
 * Which folders of an IMAP source to import, where, in what order, pure.
 * Names arrive decoded to Unicode (imapflow undoes modified UTF-7, RFC 3501
 * §5.1.3, and takes UTF-8 names as they are under UTF8=ACCEPT, RFC 6855);
 * each level is joined with Haven's '/'.
 *
 * Special use (RFC 6154 §2): \Sent, \Drafts, \Trash, \Junk and \Archive land
 * in the account's own folders of that use. Gmail shows every label as a
 * folder and every message again in \All ("[Gmail]/All Mail"), and
 * \Flagged and \Important folders are views of messages held elsewhere: so
 * views are left out, \All goes last into Archive taking only the messages
 * no label had (the sink shares the stored bytes of a message under several
 * labels, so nothing is stored twice).
 */
import type { FolderPolicy } from './sink.js';

export interface SourceFolderInfo {
  /** The source's path (Unicode), to SELECT. */
  path: string;
  delimiter: string | null;
  flags: readonly string[];
  specialUse: string | null;
}

export interface FolderPlan {
  path: string;
  name: string;
  specialUse: string | null;
  policy: FolderPolicy;
}

const VIEWS = new Set(['\\Flagged', '\\Important']);

export function planFolders(list: readonly SourceFolderInfo[]): FolderPlan[] {
  const out: FolderPlan[] = [];
  const last: FolderPlan[] = [];
  for (const f of list) {
    const flags = f.flags.map((x) => x.toLowerCase());
    if (flags.includes('\\noselect') || flags.includes('\\nonexistent')) continue;
    if (f.specialUse && VIEWS.has(f.specialUse)) continue;
    const parts = f.delimiter ? f.path.split(f.delimiter) : [f.path];
    const name = parts.map((p) => p.replace(/\//g, '_')).join('/');
    const canonical = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
    if (f.specialUse === '\\All') last.push({ path: f.path, name: 'Archive', specialUse: '\\Archive', policy: 'skip-if-anywhere' });
    else out.push({ path: f.path, name: canonical, specialUse: f.specialUse, policy: 'append' });
  }
  // INBOX first (what a user checks first after a move), then the rest as listed, \All last.
  out.sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : 0));
  return [...out, ...last];
}
