/**
 * @module node/imap/commands/list
 * RFC 9051 §6.3.9 LIST with LIST-EXTENDED (RFC 5258: selection and return
 * options, several patterns, RECURSIVEMATCH with CHILDINFO, \NonExistent for
 * subscribed names whose folder is gone), SPECIAL-USE (RFC 6154), LIST-STATUS
 * (RFC 5819); and RFC 3501 §6.3.9 LSUB for IMAP4rev1 clients.
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

/** The names above one in the hierarchy: a/b/c has a and a/b. */
function ancestors(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) out.push(name.slice(0, i));
  return out;
}

/** A name LIST can report: a folder, or a subscription whose folder is gone. */
interface Entry {
  folder: Folder | null;
  subscribed: boolean;
}

function entries(s: Session): Map<string, Entry> {
  const all = new Map<string, Entry>();
  for (const f of s.port.folders.list()) all.set(f.name, { folder: f, subscribed: f.subscribed });
  for (const n of s.port.folders.orphanSubscriptions()) all.set(n, { folder: null, subscribed: true });
  return all;
}

function listFolders(s: Session, verb: 'LIST' | 'LSUB', ref: string, patterns: string[], sel: string[], ret: { subscribed: boolean; status: string[] | null }): void {
  if (patterns.length === 1 && patterns[0] === '' && verb === 'LIST') {
    s.untagged('LIST (\\Noselect) "/" ""');
    return;
  }
  const all = entries(s);
  const tests = patterns.map((p) => matcher(ref, p));
  const matches = (name: string) => tests.some((t) => t(name));
  const bySubscription = verb === 'LSUB' || sel.includes('SUBSCRIBED');
  const bySpecialUse = sel.includes('SPECIAL-USE');
  const recursive = sel.includes('RECURSIVEMATCH');
  // RFC 5258 §3: whether a name meets the selection options by itself (with none, every folder does).
  const chosen = (e: Entry | undefined): boolean => !!e && (bySubscription ? e.subscribed : !!e.folder) && (!bySpecialUse || !!e.folder?.specialUse);
  // For each name, the chosen names below it (RECURSIVEMATCH's CHILDINFO, LSUB's \Noselect levels), and whether folders are below it.
  const chosenBelow = new Map<string, string[]>();
  const foldersBelow = new Set<string>();
  for (const [name, e] of all) {
    for (const a of ancestors(name)) {
      if (e.folder) foldersBelow.add(a);
      if (chosen(e)) chosenBelow.set(a, [...(chosenBelow.get(a) ?? []), name]);
    }
  }
  const plain = !bySubscription && !bySpecialUse;
  const childInfo = [bySubscription && '"SUBSCRIBED"', bySpecialUse && '"SPECIAL-USE"'].filter(Boolean).join(' ');
  const names = [...new Set([...all.keys(), ...foldersBelow, ...chosenBelow.keys()])].sort();
  for (const name of names) {
    if (!matches(name)) continue;
    const e = all.get(name);
    const below = chosenBelow.get(name) ?? [];
    if (verb === 'LSUB') {
      // RFC 3501 §6.3.9: a level `%` stops at whose child is subscribed, itself not, is returned \Noselect.
      if (chosen(e)) lsubLine(s, name, e?.folder ? '' : '\\Noselect');
      else if (below.some((d) => !matches(d))) lsubLine(s, name, '\\Noselect');
      continue;
    }
    const own = chosen(e);
    const info = recursive && below.length > 0;
    const attrs: string[] = [];
    if (!own && !info) {
      // RFC 3501 §6.3.8: a level of hierarchy that is not a folder itself (its folder was deleted, its children were not).
      if (plain && !e?.folder && foldersBelow.has(name)) s.send(toBuffer(['* LIST (\\Noselect \\HasChildren) "/" ', ...s.wireName(name), '\r\n']));
      continue;
    }
    if (!e?.folder) attrs.push('\\NonExistent');
    else attrs.push(foldersBelow.has(name) ? '\\HasChildren' : '\\HasNoChildren');
    if (e?.subscribed && (ret.subscribed || bySubscription)) attrs.push('\\Subscribed');
    if (e?.folder?.specialUse) attrs.push(e.folder.specialUse);
    // RFC 5258 §3.5: CHILDINFO names the selection options a descendant meets.
    s.send(toBuffer([`* LIST (${attrs.join(' ')}) "/" `, ...s.wireName(name), info ? ` ("CHILDINFO" (${childInfo}))\r\n` : '\r\n']));
    if (ret.status && e?.folder) s.io.write(statusLine(s, e.folder, ret.status));
  }
}

function lsubLine(s: Session, name: string, attrs: string): void {
  s.send(toBuffer([`* LSUB (${attrs}) "/" `, ...s.wireName(name), '\r\n']));
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
