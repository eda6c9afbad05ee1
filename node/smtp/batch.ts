/**
 * @module node/smtp/batch
 * Group commit for local delivery. Each commit to a mailbox costs an fsync
 * whatever its size, and better-sqlite3 would block the event loop for it;
 * so deliveries that arrive together for the same open mailbox are written
 * in one transaction, whose fsync runs on the thread pool
 * (Messages.appendManyDeferred) alongside those of other mailboxes, and each
 * caller is answered only once that transaction is durable. Mail for a
 * locked mailbox goes through Store.deliver (sealed into the spool) as is.
 */
import type { Store } from '../store/index.js';

interface Pending {
  raw: Buffer;
  folder?: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class DeliveryBatcher {
  private pending = new Map<string, Pending[]>();
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly windowMs = 2,
  ) {}

  /** Durable when it resolves. */
  deliver(accountId: string, raw: Buffer, folder?: string): Promise<void> {
    if (!this.store.isUnlocked(accountId)) return this.store.deliver(accountId, raw, { folder }).then(() => undefined);
    return new Promise((resolve, reject) => {
      const list = this.pending.get(accountId) ?? [];
      list.push({ raw, folder, resolve, reject });
      this.pending.set(accountId, list);
      if (!this.scheduled) {
        this.scheduled = true;
        // A short window lets deliveries from concurrent sessions share one commit;
        // it costs each message at most this much latency.
        setTimeout(() => void this.flush(), this.windowMs);
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [accountId, items] of batches) {
      let lease;
      try {
        lease = await this.store.openMailbox(accountId);
      } catch {
        // Locked between the check and now: seal each into the spool instead.
        for (const it of items) this.store.deliver(accountId, it.raw, { folder: it.folder }).then(() => it.resolve(), it.reject);
        continue;
      }
      try {
        const { folders, messages } = lease.mailbox;
        const inbox = folders.require('INBOX');
        const byFolder = new Map<number, Pending[]>();
        for (const it of items) {
          const f = (it.folder && folders.get(it.folder)) || inbox;
          byFolder.set(f.id, [...(byFolder.get(f.id) ?? []), it]);
        }
        for (const [folderId, group] of byFolder) {
          try {
            const { durable } = messages.appendManyDeferred(folderId, group.map((g) => ({ raw: g.raw, ignoreQuota: true })));
            durable.then(
              () => group.forEach((g) => g.resolve()),
              (err) => group.forEach((g) => g.reject(err)),
            );
          } catch (err) {
            for (const g of group) g.reject(err);
          }
        }
      } finally {
        lease.release();
      }
    }
  }
}
