/**
 * @module node/imap/notify
 * RFC 5465 NOTIFY: what one session asked to be told, and the untagged
 * responses that follows from changes elsewhere. For the selected mailbox
 * the session pushes its usual EXISTS / FETCH FLAGS / EXPUNGE at once
 * (SELECTED) or holds expunges for a command that may carry them
 * (SELECTED-DELAYED); for other mailboxes this module queues STATUS (message
 * events, §5.2–5.4) and LIST (MailboxName §5.4, SubscriptionChange §5.5),
 * computed when written so several changes coalesce into one line.
 */
import { ImapError } from './errors.js';
import type { CommandName, FetchAtt, NotifyGroup } from './parse.js';
import type { Folder, MailboxChange, MailPort } from './port.js';
import { toBuffer, type Chunk } from './respond.js';

export const SUPPORTED_EVENTS = ['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'];
const MESSAGE_EVENTS = new Set(['MessageNew', 'MessageExpunge', 'FlagChange', 'AnnotationChange']);
/** Commands whose own folder changes the client already knows about. */
const FOLDER_COMMANDS = new Set<CommandName>(['CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE']);

/** RFC 5465 §5: the rules an event group must follow; throws BAD or NO [BADEVENT]. */
export function validateGroups(groups: NotifyGroup[]): void {
  for (const g of groups) {
    const selected = g.filter === 'SELECTED' || g.filter === 'SELECTED-DELAYED';
    const ev = new Set(g.events);
    if (selected && g.events.some((e) => !MESSAGE_EVENTS.has(e)))
      throw new ImapError('BAD', null, `${g.filter} takes only message events (MessageNew, MessageExpunge, FlagChange)`);
    if (!selected && g.fetch) throw new ImapError('BAD', null, 'fetch attributes on MessageNew are for the selected mailbox only');
    // The pairing keeps message numbers of the selected mailbox meaningful; for other mailboxes,
    // which are reported by STATUS, MessageNew alone is valid (RFC 5465 §3.1's own example, errata 1804: `(subtree Lists (MessageNew))`).
    if (selected && ev.has('MessageNew') !== ev.has('MessageExpunge')) throw new ImapError('BAD', null, 'MessageNew and MessageExpunge go together; name both');
    if ((ev.has('FlagChange') || ev.has('AnnotationChange')) && !(ev.has('MessageNew') && ev.has('MessageExpunge')))
      throw new ImapError('BAD', null, 'FlagChange needs MessageNew and MessageExpunge in the same group');
  }
  const unsupported = groups.flatMap((g) => g.events).filter((e) => !SUPPORTED_EVENTS.includes(e));
  if (unsupported.length) throw new ImapError('NO', `BADEVENT (${SUPPORTED_EVENTS.join(' ')})`, `${unsupported[0]} is not supported`);
}

interface Known {
  name: string;
  subscribed: boolean;
}

export class Notifier {
  private readonly selectedGroup: NotifyGroup | null;
  private readonly others: NotifyGroup[];
  private folders = new Map<number, Known>();
  /** Folders owed a STATUS line, and LIST lines waiting to go out. */
  private readonly statusDue = new Set<number>();
  private readonly lists: Chunk[][] = [];

  constructor(
    private readonly port: MailPort,
    groups: NotifyGroup[],
    private readonly wireName: (name: string) => Chunk[],
  ) {
    this.selectedGroup = groups.find((g) => g.filter === 'SELECTED' || g.filter === 'SELECTED-DELAYED') ?? null;
    this.others = groups.filter((g) => g !== this.selectedGroup);
    this.folders = this.snapshot();
  }

  /** For a change to the selected mailbox: push it now ('immediate', 'delayed' holds expunges) or leave it for a command. */
  selectedPush(c: MailboxChange): 'immediate' | 'delayed' | null {
    const g = this.selectedGroup;
    if (!g || !g.events.includes(eventOf(c))) return null;
    return g.filter === 'SELECTED' ? 'immediate' : 'delayed';
  }

  /** MessageNew's fetch attributes for the selected mailbox. */
  get newFetch(): FetchAtt[] | null {
    return this.selectedGroup?.events.includes('MessageNew') ? this.selectedGroup.fetch : null;
  }

  /** A message change in a mailbox other than the selected one; returns whether something is now due. */
  messageChanged(c: MailboxChange & { folderId: number }): boolean {
    const f = this.folders.get(c.folderId) ?? this.port.folders.byId(c.folderId);
    if (!f) return false;
    const g = this.groupFor(f.name, f.subscribed);
    if (!g?.events.includes(eventOf(c))) return false;
    this.statusDue.add(c.folderId);
    return true;
  }

  /** Folders were created, deleted, renamed or (un)subscribed somewhere; returns whether something is now due. */
  foldersChanged(current: CommandName | null): boolean {
    const before = this.folders;
    const now = this.snapshot();
    this.folders = now;
    if (current && FOLDER_COMMANDS.has(current)) return false; // this session's own change
    const all = this.port.folders.list();
    const byId = new Map(all.map((f) => [f.id, f]));
    const names = all.map((f) => f.name);
    let due = false;
    for (const [id, old] of before) {
      if (now.has(id)) continue;
      if (!this.wants(old.name, old.subscribed, 'MailboxName')) continue;
      this.lists.push(['* LIST (\\NonExistent) "/" ', ...this.wireName(old.name), '\r\n']);
      due = true;
    }
    for (const [id, cur] of now) {
      const old = before.get(id);
      const f = byId.get(id)!;
      if (!old || old.name !== cur.name) {
        if (!this.wants(cur.name, cur.subscribed, 'MailboxName')) continue;
        const oldName: Chunk[] = old ? [' ("OLDNAME" (', ...this.wireName(old.name), '))'] : [];
        this.lists.push([`* LIST (${attrs(f, names)}) "/" `, ...this.wireName(cur.name), ...oldName, '\r\n']);
        due = true;
      } else if (old.subscribed !== cur.subscribed && this.wants(cur.name, true, 'SubscriptionChange')) {
        this.lists.push([`* LIST (${attrs(f, names)}) "/" `, ...this.wireName(cur.name), '\r\n']);
        due = true;
      }
    }
    return due;
  }

  /** RFC 5465 §3.1 NOTIFY SET STATUS: the folders the other groups watch (not the selected one). */
  initialStatus(selectedId: number | null): void {
    for (const f of this.port.folders.list()) {
      if (f.id === selectedId) continue;
      const g = this.groupFor(f.name, f.subscribed);
      if (g && g.events.some((e) => MESSAGE_EVENTS.has(e))) this.statusDue.add(f.id);
    }
  }

  /** Everything due, as wire bytes; the selected mailbox never gets a STATUS. */
  take(selectedId: number | null, condstore: boolean): Buffer | null {
    if (!this.statusDue.size && !this.lists.length) return null;
    const out: Chunk[] = [];
    for (const l of this.lists.splice(0)) out.push(...l);
    for (const id of this.statusDue) {
      if (id === selectedId) continue;
      const f = this.port.folders.byId(id);
      if (!f) continue;
      const st = this.port.folders.status(id);
      const mod = condstore ? ` HIGHESTMODSEQ ${st.highestModseq}` : '';
      out.push('* STATUS ', ...this.wireName(f.name), ` (MESSAGES ${st.messages} UIDNEXT ${st.uidNext} UIDVALIDITY ${st.uidValidity} UNSEEN ${st.unseen}${mod})\r\n`);
    }
    this.statusDue.clear();
    return out.length ? toBuffer(out) : null;
  }

  private wants(name: string, subscribed: boolean, event: string): boolean {
    return !!this.groupFor(name, subscribed)?.events.includes(event);
  }

  /** The first non-selected group whose filter covers the mailbox (RFC 5465 §6). */
  private groupFor(name: string, subscribed: boolean): NotifyGroup | null {
    for (const g of this.others) {
      switch (g.filter) {
        case 'PERSONAL': return g;
        case 'INBOXES': if (name === 'INBOX') return g; break;
        case 'SUBSCRIBED': if (subscribed) return g; break;
        case 'SUBTREE': if (g.mailboxes.some((m) => name === m || name.startsWith(m + '/'))) return g; break;
        case 'MAILBOXES': if (g.mailboxes.includes(name)) return g; break;
      }
    }
    return null;
  }

  private snapshot(): Map<number, Known> {
    return new Map(this.port.folders.list().map((f) => [f.id, { name: f.name, subscribed: f.subscribed }]));
  }
}

function eventOf(c: MailboxChange): string {
  return c.type === 'exists' ? 'MessageNew' : c.type === 'expunge' ? 'MessageExpunge' : c.type === 'flags' ? 'FlagChange' : '';
}

/** The LIST attributes list.ts reports for a folder. */
function attrs(f: Folder, names: string[]): string {
  const out = [names.some((n) => n.startsWith(f.name + '/')) ? '\\HasChildren' : '\\HasNoChildren'];
  if (f.subscribed) out.push('\\Subscribed');
  if (f.specialUse) out.push(f.specialUse);
  return out.join(' ');
}
