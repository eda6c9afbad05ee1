/**
 * @module node/imap/commands/list
 * RFC 9051 §6.3.9 LIST with LIST-EXTENDED (RFC 5258: selection and return
 * options, several patterns), SPECIAL-USE (RFC 6154), LIST-STATUS (RFC 5819);
 * and RFC 3501 §6.3.9 LSUB for IMAP4rev1 clients.
 */
import type { Folder } from '../port.js';
import { toBuffer } from '../respond.js';
import type { Handler, Session } from '../session.js';
import { statusLine } from './status.js';

function matcher(ref: string, pattern: string): (name: string) => boolean {
  let p = ref + pattern;
  if (p.slice(0, 5).toUpperCase() === 'INBOX') p = 'INBOX' + p.slice(5);
  const re = new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/%/g, '[^/]*') + '$');
  return (name) => re.test(name);
}

function listFolders(s: Session, verb: 'LIST' | 'LSUB', ref: string, patterns: string[], sel: string[], ret: { subscribed: boolean; status: string[] | null }): void {
  if (patterns.length === 1 && patterns[0] === '' && verb === 'LIST') {
    s.untagged('LIST (\\Noselect) "/" ""');
    return;
  }
  const all = s.port.folders.list();
  const names = new Set(all.map((f) => f.name));
  const tests = patterns.map((p) => matcher(ref, p));
  const onlySubscribed = verb === 'LSUB' || sel.includes('SUBSCRIBED');
  for (const f of all as Folder[]) {
    if (!tests.some((t) => t(f.name))) continue;
    if (onlySubscribed && !f.subscribed) continue;
    if (sel.includes('SPECIAL-USE') && !f.specialUse) continue;
    const attrs: string[] = [];
    const hasKids = [...names].some((n) => n.startsWith(f.name + '/'));
    if (verb === 'LIST') attrs.push(hasKids ? '\\HasChildren' : '\\HasNoChildren');
    if (f.subscribed && (ret.subscribed || onlySubscribed) && verb === 'LIST') attrs.push('\\Subscribed');
    if (f.specialUse && verb === 'LIST') attrs.push(f.specialUse);
    s.send(toBuffer([`* ${verb} (${attrs.join(' ')}) "/" `, ...s.wireName(f.name), '\r\n']));
    if (ret.status) s.io.write(statusLine(s, f, ret.status));
  }
}

export const list: Handler<'LIST'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    listFolders(s, 'LIST', cmd.ref, cmd.patterns, cmd.selection, cmd.returns);
  },
};

export const lsub: Handler<'LSUB'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    listFolders(s, 'LSUB', cmd.ref, cmd.patterns, [], { subscribed: true, status: null });
  },
};
