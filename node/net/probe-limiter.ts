/**
 * @module node/net/probe-limiter
 * Address harvesting (directory harvest attacks): a client that tries
 * recipient after recipient learns from each 550 5.1.1 which addresses
 * exist. Unknown-recipient answers are counted per client IP and per
 * logged-in account over a window: past `tarpitAfter` each further answer
 * waits a growing delay, past `disconnectAfter` the client gets 421 and is
 * disconnected, and so is any later attempt from that IP or account until
 * the window has passed. In memory, like the login limiter: a restart
 * forgives.
 */
export interface ProbeLimits {
  tarpitAfter: number;
  disconnectAfter: number;
  windowMs: number;
  /** Delay added per answer past tarpitAfter. */
  stepMs: number;
  maxDelayMs: number;
}

export const DEFAULT_PROBE_LIMITS: ProbeLimits = { tarpitAfter: 3, disconnectAfter: 10, windowMs: 10 * 60_000, stepMs: 500, maxDelayMs: 5000 };

interface Count {
  n: number;
  first: number;
}

export class ProbeLimiter {
  private readonly counts = new Map<string, Count>();
  readonly limits: ProbeLimits;

  constructor(limits: Partial<ProbeLimits> = {}) {
    this.limits = { ...DEFAULT_PROBE_LIMITS, ...limits };
  }

  private get(key: string, now: number): Count {
    let c = this.counts.get(key);
    if (!c || now - c.first > this.limits.windowMs) {
      c = { n: 0, first: now };
      this.counts.set(key, c);
      // Bounded: old entries go once the map grows, so many addresses cannot grow it without end.
      if (this.counts.size > 100_000) for (const [k, v] of this.counts) if (now - v.first > this.limits.windowMs) this.counts.delete(k);
    }
    return c;
  }

  /** Whether any key is already past the disconnect threshold within its window. */
  blocked(keys: readonly string[], now = Date.now()): boolean {
    return keys.some((k) => {
      const c = this.counts.get(k);
      return !!c && now - c.first <= this.limits.windowMs && c.n >= this.limits.disconnectAfter;
    });
  }

  /** Records one unknown-recipient answer for every key; says how long to hold it, or to disconnect. */
  unknown(keys: readonly string[], now = Date.now()): { delayMs: number; disconnect: boolean } {
    let n = 0;
    for (const k of keys) {
      const c = this.get(k, now);
      c.n++;
      n = Math.max(n, c.n);
    }
    if (n >= this.limits.disconnectAfter) return { delayMs: 0, disconnect: true };
    const over = n - this.limits.tarpitAfter;
    return { delayMs: over > 0 ? Math.min(this.limits.maxDelayMs, over * this.limits.stepMs) : 0, disconnect: false };
  }
}
