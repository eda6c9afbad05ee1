/**
 * @module node/replication/upload-pump
 * Uploads to the replica, shared by every database: a bounded number in
 * flight (so a burst of databases does not open hundreds of connections),
 * backoff between failed attempts (sleeps that stopping cuts short), and
 * the figures status reports (uploads, bytes, the last error and whether
 * the replica is failing now). Each database's loop asks it to put one
 * object at a time, in chain order.
 */
import { backoffMs } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import type { ReplicaTarget } from './target.js';

export interface PumpOptions {
  concurrency: number;
  minBackoffMs: number;
  maxBackoffMs: number;
}

export class UploadPump {
  private slots: number;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly sleepers = new Set<() => void>();
  lastError: string | null = null;
  lastErrorAt: number | null = null;
  lastUploadAt: number | null = null;
  uploads = 0;
  uploadedBytes = 0;
  /** The last attempt failed and no upload has succeeded since. */
  failing = false;

  constructor(
    private readonly target: ReplicaTarget,
    private readonly o: PumpOptions,
    private readonly log: Logger,
  ) {
    this.slots = o.concurrency;
  }

  /** Puts one object; throws what the store threw (the caller backs off and retries). */
  async put(key: string, body: Buffer, size: number): Promise<number> {
    await this.acquire();
    try {
      await this.target.put(key, body);
    } finally {
      this.release();
    }
    if (this.failing) {
      this.failing = false;
      this.log.info({ target: this.target.description }, 'replication: the replica takes uploads again');
    }
    this.uploads++;
    this.uploadedBytes += size;
    this.lastUploadAt = Date.now();
    return this.lastUploadAt;
  }

  /** Records a failure (logged once per outage, not per attempt). */
  failed(err: unknown, db: string): void {
    const msg = (err as Error)?.message ?? String(err);
    this.lastError = `${db}: ${msg}`;
    this.lastErrorAt = Date.now();
    if (!this.failing) {
      this.failing = true;
      this.log.warn({ err, db, target: this.target.description }, 'replication: upload failed; retrying with backoff (mail keeps flowing)');
    }
  }

  backoff(failures: number): number {
    return backoffMs(failures, this.o.minBackoffMs, this.o.maxBackoffMs);
  }

  /** Waits `ms`, or less when `wakeAll` is called (stopping). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  wakeAll(): void {
    for (const s of [...this.sleepers]) s();
  }

  private acquire(): Promise<void> {
    if (this.slots > 0) {
      this.slots--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.slots++;
  }
}
