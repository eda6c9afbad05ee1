/**
 * @module node/pop3/store-maildrop
 * The POP3 port over the encrypted store. Owns the maildrop lock: one POP3
 * session per account at a time, across every POP3 listener of the process
 * sharing this Store (110 and 995 alike), kept in memory because a crashed
 * process holds no sessions.
 */
import type { Store } from '../store/index.js';
import { MaildropInUseError } from './errors.js';
import type { Maildrop, MaildropEntry, Pop3Backend } from './port.js';

const locks = new WeakMap<Store, Set<string>>();

function heldBy(store: Store): Set<string> {
  let s = locks.get(store);
  if (!s) locks.set(store, (s = new Set()));
  return s;
}

/**
 * UIDL from the folder's UIDVALIDITY and the message UID (Dovecot's default
 * shape, %08Xu%08Xv): both survive restarts and restores because they are
 * data in the mailbox database, and the pair is never reused.
 */
export function uidlOf(uidValidity: number, uid: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return hex(uid) + hex(uidValidity);
}

export class StoreMaildrops implements Pop3Backend {
  constructor(private readonly store: Store) {}

  async open(user: string, secret: string): Promise<Maildrop> {
    const lease = await this.store.authenticate(user, secret);
    const held = heldBy(this.store);
    if (held.has(lease.account.id)) {
      lease.release();
      throw new MaildropInUseError();
    }
    held.add(lease.account.id);
    const { messages, folders } = lease.mailbox;
    /** INBOX UIDs other sessions (IMAP) removed since login: their blob ids may be reused, so never read them. */
    const gone = new Set<number>();
    let allGone = false;
    let inboxId = -1;
    const off = lease.mailbox.onChange((c) => {
      if (c.type !== 'expunge' || c.folderId !== inboxId) return;
      // Renaming INBOX moves every message out and reports no UIDs.
      if (c.uids.length === 0) allGone = true;
      for (const u of c.uids) gone.add(u);
    });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      off();
      held.delete(lease.account.id);
      lease.release();
    };
    try {
      const inbox = folders.require('INBOX');
      inboxId = inbox.id;
      const list = messages.pop3List(inbox.id);
      const blobs = new Map(list.map((m) => [m.uid, m.blobId]));
      const entries: MaildropEntry[] = list.map((m) => ({ uid: m.uid, size: m.size, uidl: uidlOf(inbox.uidValidity, m.uid) }));
      const keep = lease.account.pop3Keep;
      return {
        account: lease.account.address,
        entries,
        read(uid) {
          const blobId = blobs.get(uid);
          if (blobId === undefined || allGone || gone.has(uid)) return null;
          return messages.raw(blobId) ?? null;
        },
        commit(uids) {
          messages.pop3Commit(inbox.id, [...uids], keep);
        },
        release,
      };
    } catch (err) {
      release();
      throw err;
    }
  }
}
