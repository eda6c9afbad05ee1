/**
 * @module node/store/open-mailboxes
 * The store's cache of unlocked mailboxes: each open database with its key,
 * how many leases hold it, and the timers that give its memory back. Bounded
 * for a 1 GB server: at most `maxOpen` open (the least recently used idle one
 * closes first), an unused one trims its page cache and flag indexes after
 * `trimAfterMs` and closes after `idleCloseMs`, dropping its key from memory.
 * What opening and closing mean for the rest of the store (spool drain,
 * change listeners, usage figure, remembered logins) comes in as hooks.
 */
import { open as aeadOpen, type BoxKeyPair } from '../crypto/index.js';
import type { Account } from './directory/directory.js';
import { Mailbox } from './mailbox/mailbox.js';
import type { IndexSchedule } from './mailbox/fts-queue.js';
import { RenderedPool } from './mailbox/rendered.js';

/** The associated data that seals each account's box private key under its mailbox key. */
export const BOX_PRIVATE_AAD = Buffer.from('haven-box-private-v1');

export interface OpenEntry {
  mailbox: Mailbox;
  key: Buffer;
  box: BoxKeyPair;
  refs: number;
  /** Armed while no lease is held (or since the last release); when it fires it looks at lastUsed and waits again if need be. */
  idleTimer: NodeJS.Timeout | null;
  lastUsed: number;
  /** Its caches were given back since it was last used (trimAfterMs). */
  trimmed: boolean;
}

export interface OpenMailboxLimits {
  idleCloseMs: number;
  maxOpen: number;
  mailboxCacheKiB: number;
  trimAfterMs: number;
  davResponseCacheBytes: number;
  davResponseCacheTotalBytes: number;
  indexSchedule: IndexSchedule;
}

export interface OpenMailboxHooks {
  path(accountId: string): string;
  /** Just opened and cached: wire listeners, drain sealed mail. */
  opened(accountId: string, e: OpenEntry): void;
  /** About to close; a failure here is ignored, the mailbox closes anyway. */
  closing(accountId: string, e: OpenEntry): void;
  /** Closed and its key wiped. */
  closed(accountId: string): void;
}

export class OpenMailboxes {
  private readonly entries = new Map<string, OpenEntry>();
  private readonly renderedPool: RenderedPool;
  /** Set by closeAll: releases no longer arm idle timers. */
  private shut = false;

  constructor(
    private readonly limits: OpenMailboxLimits,
    private readonly hooks: OpenMailboxHooks,
  ) {
    this.renderedPool = new RenderedPool(limits.davResponseCacheTotalBytes);
  }

  get(accountId: string): OpenEntry | undefined {
    return this.entries.get(accountId);
  }

  has(accountId: string): boolean {
    return this.entries.has(accountId);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The open entry for `account`, opening its mailbox with `key` when it is not open yet. */
  open(account: Account, key: Buffer): OpenEntry {
    let e = this.entries.get(account.id);
    if (e) return e;
    const { mailboxCacheKiB, davResponseCacheBytes, indexSchedule } = this.limits;
    const mailbox = Mailbox.open(account.id, this.hooks.path(account.id), key, { cacheKiB: mailboxCacheKiB, renderedCacheBytes: davResponseCacheBytes, renderedPool: this.renderedPool, indexSchedule });
    const box = { publicKey: account.boxPublic, privateKey: aeadOpen(key, account.boxPrivateSealed, BOX_PRIVATE_AAD) };
    mailbox.setQuota(account.quotaBytes);
    e = { mailbox, key, box, refs: 0, idleTimer: null, lastUsed: Date.now(), trimmed: false };
    this.entries.set(account.id, e);
    this.hooks.opened(account.id, e);
    this.evictIfNeeded();
    return e;
  }

  /** A lease takes the entry. The idle timer stays armed: when it fires it finds the mailbox in use, or used since, and waits again. */
  acquire(e: OpenEntry): void {
    // Clearing and setting a timer on every request (DAV leases one per request) cost more than the lease.
    e.refs++;
    e.lastUsed = Date.now();
    e.trimmed = false;
  }

  release(accountId: string, e: OpenEntry): void {
    e.refs--;
    e.lastUsed = Date.now();
    if (e.refs === 0 && !this.shut) this.armIdle(accountId, e);
  }

  /** Unused: first give back the mailbox's caches (trimAfterMs), then close it (idleCloseMs). */
  private armIdle(accountId: string, e: OpenEntry): void {
    if (e.idleTimer) return;
    const { trimAfterMs, idleCloseMs } = this.limits;
    const trims = trimAfterMs < idleCloseMs;
    const wait = (ms: number) => {
      e.idleTimer = setTimeout(fire, Math.max(0, ms));
      e.idleTimer.unref();
    };
    const fire = () => {
      e.idleTimer = null;
      // In use: the last release arms it again.
      if (e.refs > 0 || this.entries.get(accountId) !== e) return;
      const idle = Date.now() - e.lastUsed;
      if (idle >= idleCloseMs) return this.close(accountId);
      if (trims && !e.trimmed && idle >= trimAfterMs) {
        e.mailbox.trimMemory();
        e.trimmed = true;
      }
      wait((trims && !e.trimmed ? trimAfterMs : idleCloseMs) - idle);
    };
    wait((trims ? trimAfterMs : idleCloseMs) - (Date.now() - e.lastUsed));
  }

  /** Closes a mailbox no lease holds (and wipes its key); one in use stays open. */
  close(accountId: string): void {
    const e = this.entries.get(accountId);
    if (!e || e.refs > 0) return;
    if (e.idleTimer) clearTimeout(e.idleTimer);
    this.entries.delete(accountId);
    try {
      this.hooks.closing(accountId, e);
    } catch {
      // What the store records at close (the usage figure, a cache for quota checks
      // while locked) must not stop the mailbox from closing: a full disk, say.
    } finally {
      e.mailbox.close();
      e.key.fill(0);
      e.box.privateKey.fill(0);
      this.hooks.closed(accountId);
    }
  }

  /** Closes every mailbox, leases or not (the store is closing). */
  closeAll(): void {
    this.shut = true;
    for (const id of [...this.entries.keys()]) {
      this.entries.get(id)!.refs = 0;
      this.close(id);
    }
  }

  private evictIfNeeded(): void {
    if (this.entries.size <= this.limits.maxOpen) return;
    const idle = [...this.entries.entries()].filter(([, e]) => e.refs === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id] of idle.slice(0, this.entries.size - this.limits.maxOpen)) this.close(id);
  }
}
