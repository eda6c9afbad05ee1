/**
 * @module node/smtp/batch
 * Group commit for local delivery. Each commit costs an fsync whatever its
 * size, and better-sqlite3 would block the event loop for it; so deliveries
 * that arrive within a short window are written together and their fsyncs
 * run on the thread pool, side by side:
 * - for an open mailbox, one transaction per mailbox and folder
 *   (Messages.appendManyDeferred);
 * - for locked zero-access mailboxes, one spool transaction for all of them
 *   (Store.sealMany).
 * Each caller is answered only once its transaction is durable. A locked
 * mailbox in managed mode goes through Store.deliver, which opens it.
 */
import type { Store } from '../store/index.js';

/** Where a copy goes: a folder (INBOX when absent or missing), its flags, and whether a missing folder is made (RFC 5490 :create). */
export interface Placement {
  folder?: string;
  flags?: string[];
  create?: boolean;
}

interface Pending extends Placement {
  accountId: string;
  raw: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function settle(items: Pending[], p: Promise<unknown>): void {
  p.then(
    () => items.forEach((it) => it.resolve()),
    (err) => items.forEach((it) => it.reject(err)),
  );
}

export class DeliveryBatcher {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly windowMs = 2,
  ) {}

  /** Durable when it resolves. */
  deliver(accountId: string, raw: Buffer, place: string | Placement = {}): Promise<void> {
    const p = typeof place === 'string' ? { folder: place } : place;
    return new Promise((resolve, reject) => {
      this.pending.push({ accountId, raw, folder: p.folder, flags: p.flags, create: p.create, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // A short window lets deliveries from concurrent sessions share commits;
        // it costs each message at most this much latency.
        setTimeout(() => this.flush(), this.windowMs);
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.pending;
    this.pending = [];
    const open = new Map<string, Pending[]>();
    const seal: Pending[] = [];
    // Decided and written in this one synchronous turn, so a mailbox cannot be
    // opened (and its spool drained) between the check and the sealing.
    for (const it of items) {
      if (this.store.isUnlocked(it.accountId)) open.set(it.accountId, [...(open.get(it.accountId) ?? []), it]);
      else if (this.store.directory.getAccountById(it.accountId)?.keyMode === 'managed') settle([it], this.store.deliver(it.accountId, it.raw, { folder: it.folder, flags: it.flags, create: it.create }));
      else seal.push(it);
    }
    if (seal.length > 0) {
      try {
        settle(seal, this.store.sealMany(seal.map(({ accountId, raw, folder, flags, create }) => ({ accountId, raw, folder, flags, create }))));
      } catch (err) {
        seal.forEach((it) => it.reject(err));
      }
    }
    for (const [accountId, group] of open) this.writeOpen(accountId, group);
  }

  private writeOpen(accountId: string, items: Pending[]): void {
    this.store.openMailbox(accountId).then(
      (lease) => {
        try {
          const { folders, messages } = lease.mailbox;
          const inbox = folders.require('INBOX');
          const byFolder = new Map<number, Pending[]>();
          for (const it of items) {
            const f = (it.folder && (folders.get(it.folder) ?? createFolder(folders, it))) || inbox;
            byFolder.set(f.id, [...(byFolder.get(f.id) ?? []), it]);
          }
          for (const [folderId, group] of byFolder) {
            try {
              settle(group, messages.appendManyDeferred(folderId, group.map((g) => ({ raw: g.raw, flags: g.flags, ignoreQuota: true }))).durable);
            } catch (err) {
              group.forEach((g) => g.reject(err));
            }
          }
        } finally {
          lease.release();
        }
      },
      // Locked between the check and now: Store.deliver seals each into the spool.
      () => items.forEach((it) => settle([it], this.store.deliver(it.accountId, it.raw, { folder: it.folder, flags: it.flags, create: it.create }))),
    );
  }
}

/** A folder a Sieve fileinto :create names; null (INBOX instead) when not asked for or the name is refused. */
function createFolder(folders: { create(name: string): { id: number } }, it: Placement): { id: number } | null {
  if (!it.create || !it.folder) return null;
  try {
    return folders.create(it.folder);
  } catch {
    return null;
  }
}
