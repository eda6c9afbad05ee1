/**
 * @module node/util/auth-limiter
 * One failed-login policy for SMTP, IMAP and POP3: each failure from an IP or
 * against an account slows the next attempt (growing delay), and past a
 * threshold locks that IP or account out for a while. In memory on purpose:
 * a restart forgives, which is what an operator who locked themselves out
 * expects, and nothing about attempts is written to disk.
 */
import { metrics } from './metrics.js';

export interface AuthLimiterOptions {
  /** Failures before lockout, per IP and per account. */
  maxFailures: number;
  /** Lockout length in ms. */
  lockoutMs: number;
  /** Window in which failures count, in ms. */
  windowMs: number;
  /** Delay added per failure, in ms, capped at maxDelayMs. */
  stepDelayMs: number;
  maxDelayMs: number;
}

interface Counter {
  failures: number;
  first: number;
  lockedUntil: number;
}

export class AuthLimiter {
  private readonly ips = new Map<string, Counter>();
  private readonly accounts = new Map<string, Counter>();
  readonly opts: AuthLimiterOptions;

  constructor(opts: Partial<AuthLimiterOptions> = {}) {
    this.opts = { maxFailures: 10, lockoutMs: 15 * 60_000, windowMs: 15 * 60_000, stepDelayMs: 250, maxDelayMs: 5_000, ...opts };
  }

  private get(map: Map<string, Counter>, key: string, now: number): Counter {
    let c = map.get(key);
    if (!c || (now - c.first > this.opts.windowMs && c.lockedUntil < now)) {
      c = { failures: 0, first: now, lockedUntil: 0 };
      map.set(key, c);
    }
    return c;
  }

  /** Whether an attempt is refused outright, and how long to wait before checking it. */
  check(ip: string, account?: string, now = Date.now()): { locked: boolean; delayMs: number; retryAfterMs: number } {
    const a = this.get(this.ips, ip, now);
    const b = account ? this.get(this.accounts, account.toLowerCase(), now) : undefined;
    const lockedUntil = Math.max(a.lockedUntil, b?.lockedUntil ?? 0);
    const failures = Math.max(a.failures, b?.failures ?? 0);
    return {
      locked: lockedUntil > now,
      retryAfterMs: Math.max(0, lockedUntil - now),
      delayMs: Math.min(this.opts.maxDelayMs, failures * this.opts.stepDelayMs),
    };
  }

  fail(ip: string, account?: string, now = Date.now()): void {
    metrics.failedLogins.inc();
    for (const [map, key] of [[this.ips, ip], [this.accounts, account?.toLowerCase()]] as const) {
      if (!key) continue;
      const c = this.get(map, key, now);
      c.failures++;
      if (c.failures >= this.opts.maxFailures) c.lockedUntil = now + this.opts.lockoutMs;
    }
  }

  succeed(ip: string, account?: string): void {
    this.ips.delete(ip);
    if (account) this.accounts.delete(account.toLowerCase());
  }

  /** Counts for metrics. */
  lockedCount(now = Date.now()): number {
    let n = 0;
    for (const m of [this.ips, this.accounts]) for (const c of m.values()) if (c.lockedUntil > now) n++;
    return n;
  }
}
