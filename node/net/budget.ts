/**
 * @module node/net/budget
 * One memory budget for the whole process. Client input the node must hold
 * in memory before it can act on it (IMAP literals, SMTP DATA) is reserved
 * here first; when the reservations would pass `maxBytes`, or the process's
 * resident memory is already past `highWaterBytes`, new work is refused with
 * the protocol's temporary error (IMAP `NO [UNAVAILABLE]`, SMTP `452 4.3.1`)
 * and the client retries later, instead of the kernel killing the node
 * halfway through everyone's work. Work already admitted runs to the end.
 */
import os from 'node:os';
import { netMetrics } from './metrics.js';

export interface BudgetOptions {
  /** Most bytes of client input held at once, all connections together. */
  maxBytes: number;
  /** Resident memory past which nothing new is admitted; 0 = 80% of the memory the process may use. */
  highWaterBytes: number;
}

/** The memory this process may use: its cgroup limit (systemd MemoryMax, a container) or the machine's. */
function memoryLimit(): number {
  const total = os.totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return constrained && constrained > 0 && constrained < total ? constrained : total;
}

export class MemoryBudget {
  private reserved = 0;
  readonly highWaterBytes: number;
  /** RSS is read at most this often: admission runs per literal and per DATA chunk. */
  private rss = 0;
  private rssAt = 0;

  constructor(readonly opts: BudgetOptions) {
    this.highWaterBytes = opts.highWaterBytes > 0 ? opts.highWaterBytes : Math.floor(memoryLimit() * 0.8);
  }

  get reservedBytes(): number {
    return this.reserved;
  }

  private residentBytes(now = Date.now()): number {
    if (now - this.rssAt > 100) {
      this.rss = process.memoryUsage.rss();
      this.rssAt = now;
    }
    return this.rss;
  }

  /** Resident memory is past the high-water mark: new connections are turned away too. */
  underPressure(): boolean {
    return this.residentBytes() > this.highWaterBytes;
  }

  /** Reserves `bytes` for `protocol`; false (and counted) when the budget refuses. */
  reserve(bytes: number, protocol: string): boolean {
    if (this.reserved + bytes > this.opts.maxBytes || this.residentBytes() > this.highWaterBytes) {
      netMetrics.budgetRefused.inc({ protocol });
      return false;
    }
    this.reserved += bytes;
    netMetrics.budgetBytes.set(undefined, this.reserved);
    return true;
  }

  release(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
    netMetrics.budgetBytes.set(undefined, this.reserved);
  }
}

export const DEFAULT_BUDGET: BudgetOptions = { maxBytes: 256 * 1024 * 1024, highWaterBytes: 0 };

/**
 * The process's budget. One per process on purpose: memory is the process's,
 * whatever number of listeners share it. startNode configures it from the
 * config; a listener started alone (tests) uses the defaults.
 */
let shared = new MemoryBudget(DEFAULT_BUDGET);

export function memoryBudget(): MemoryBudget {
  return shared;
}

export function configureMemoryBudget(opts: Partial<BudgetOptions>): MemoryBudget {
  shared = new MemoryBudget({ ...DEFAULT_BUDGET, ...opts });
  return shared;
}
