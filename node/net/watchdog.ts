/**
 * @module node/net/watchdog
 * Watches the event loop: a timer that should fire every `intervalMs` notes
 * how late it fires. Lateness is time the loop spent on something that did
 * not yield (a slow parse, a pathological rule, a synchronous KDF); every
 * session of every protocol waits that long. The worst lag of each interval
 * and the worst since start go to /metrics, and /health reports unhealthy
 * while the recent lag is over the threshold, so the edge's outside probe
 * sees a stalled node even when its sockets still accept.
 *
 * A /health answer cannot come from a loop that is stuck right now; the
 * probe's timeout covers that case. What this adds is the node saying, once
 * it answers again, that it was stalled (for `holdMs` after the stall).
 */
import { netMetrics } from './metrics.js';

export interface WatchdogOptions {
  intervalMs: number;
  /** Lag above this is unhealthy. */
  maxLagMs: number;
  /** How long one stall keeps /health unhealthy after it ended. */
  holdMs: number;
}

export const DEFAULT_WATCHDOG: WatchdogOptions = { intervalMs: 100, maxLagMs: 1000, holdMs: 30_000 };

export class LoopWatchdog {
  private timer: NodeJS.Timeout | null = null;
  private expected = 0;
  private windowMax = 0;
  private windowStart = 0;
  /** Worst lag since start, ms. */
  maxLagMs = 0;
  /** Lag of the last completed window, ms. */
  lagMs = 0;
  private stalledAt = -Infinity;
  private stalledMs = 0;
  readonly opts: WatchdogOptions;

  constructor(opts: Partial<WatchdogOptions> = {}) {
    this.opts = { ...DEFAULT_WATCHDOG, ...opts };
  }

  start(): this {
    if (this.timer) return this;
    const now = performance.now();
    this.expected = now + this.opts.intervalMs;
    this.windowStart = now;
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(now = performance.now()): void {
    const lag = Math.max(0, now - this.expected);
    this.expected = now + this.opts.intervalMs;
    this.windowMax = Math.max(this.windowMax, lag);
    this.maxLagMs = Math.max(this.maxLagMs, lag);
    if (lag > this.opts.maxLagMs) {
      this.stalledAt = now;
      this.stalledMs = lag;
    }
    if (now - this.windowStart >= 1000) {
      this.lagMs = this.windowMax;
      this.windowMax = 0;
      this.windowStart = now;
      netMetrics.loopLag.set(undefined, this.lagMs / 1000);
      netMetrics.loopLagMax.set(undefined, this.maxLagMs / 1000);
    }
  }

  /** For /health: ok unless the loop stalled past the threshold within `holdMs`. */
  health(now = performance.now()): { ok: boolean; lagMs: number; maxLagMs: number; lastStallMs: number | null } {
    // A stall in progress shows as a late tick when the loop comes back; also judge the tick that is overdue right now.
    const overdue = this.timer ? Math.max(0, now - this.expected) : 0;
    const recent = now - this.stalledAt < this.opts.holdMs;
    return {
      ok: !recent && overdue <= this.opts.maxLagMs,
      lagMs: Math.round(Math.max(this.lagMs, overdue)),
      maxLagMs: Math.round(this.maxLagMs),
      lastStallMs: recent ? Math.round(this.stalledMs) : null,
    };
  }
}
