/**
 * @module node/dav/recur-guard
 * Bounds on the recurrence work ical.js does, which has none of its own:
 *
 * - A step budget (and a wall-time backstop) charged from inside ical.js's
 *   RecurIterator. Its `next()` loops internally until a date passes the
 *   rule's BYxxx filters, so a rule that never yields one
 *   (FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30) spins inside a single call;
 *   counting produced instances, as the caller can, never trips. The same
 *   iterator expands VTIMEZONE observances, so a FREQ=SECONDLY observance
 *   from 1601 is stopped here too instead of filling the heap.
 * - Cheap time-zone offsets for far years. ical.js re-expands every
 *   observance from its DTSTART each time a conversion reaches five years
 *   past what it has expanded (appending duplicates), which makes a walk
 *   into far years quadratic. Past `TZ_HORIZON_YEAR` a year is mapped onto
 *   a year 28·k earlier: within a century the calendar repeats every 28
 *   years, so a yearly observance rule ("last Sunday of March") gives the
 *   same transition there (across a century that is not a leap year the
 *   weekday pattern drifts by a day, far beyond any rule's real lifetime).
 *
 * Work runs under `withRecurrenceBudget`; outside it, each synchronous
 * stretch of code gets a default budget of its own (reset at the next
 * microtask), so no caller can forget to bound the work.
 */
import ICAL from 'ical.js';
import { performance } from 'node:perf_hooks';

/**
 * Iterator steps allowed between two instances (one step = one candidate
 * date tested, about a microsecond): a rule that yields nothing for this
 * long is pathological. Counting steps per produced instance, not produced
 * instances, is what stops a rule that never yields.
 */
export const GAP_STEPS = 50_000;
/**
 * Iterator steps one object may cost in one synchronous expansion (about a
 * quarter of a second), which is what another session may have to wait;
 * the walks of queries run in slices with a budget of their own (ical.ts).
 */
export const DEFAULT_STEPS = 200_000;
/**
 * Wall-time backstop, for steps that cost more than they should. Wall time
 * grows with the machine's load, so it sits well above what the step limit
 * allows: the deterministic step limit is the one that normally trips.
 */
export const DEFAULT_MS = 2_000;
/** Work outside withRecurrenceBudget: per synchronous stretch, steps only (wall time would depend on the caller). */
const UNARMED_STEPS = 1_000_000;
/** Time-zone observances are expanded exactly up to this year; later years reuse the 28-year calendar cycle. */
export const TZ_HORIZON_YEAR = new Date().getUTCFullYear() + 20;

export class RecurrenceLimitError extends Error {
  override name = 'RecurrenceLimitError';
  constructor(readonly kind: 'gap' | 'steps' | 'time' | 'zone' | 'known', limit = 0) {
    super(
      kind === 'zone'
        ? 'a time zone observance does not repeat yearly'
        : kind === 'known'
          ? 'the recurrence exceeded the budget before'
          : kind === 'gap'
        ? `the recurrence needs more than ${limit} iterations to find its next instance`
        : kind === 'steps'
          ? `the recurrence needs more than ${limit} iterations`
          : `the recurrence takes longer than ${limit} ms to expand`,
    );
  }
}

/** A budget; `spentMs` counts only time spent running under it, so a sliced walk is not charged for its pauses. */
export interface Budget {
  steps: number;
  gap: number;
  limit: number;
  ms: number;
  spentMs: number;
  enteredAt: number;
  sinceClock: number;
}

let active: Budget | null = null;

export function createBudget(steps = DEFAULT_STEPS, ms = DEFAULT_MS): Budget {
  return { steps, gap: 0, limit: steps, ms, spentMs: 0, enteredAt: performance.now(), sinceClock: 0 };
}

function charge(n: number): void {
  let b = active;
  if (!b) {
    b = active = createBudget(UNARMED_STEPS, Infinity);
    // Unarmed work gets one budget per synchronous stretch.
    queueMicrotask(() => {
      if (active === b) active = null;
    });
  }
  b.steps -= n;
  b.gap += n;
  if (b.gap > GAP_STEPS) throw new RecurrenceLimitError('gap', GAP_STEPS);
  if (b.steps < 0) throw new RecurrenceLimitError('steps', b.limit);
  b.sinceClock += n;
  if (b.sinceClock >= 2048) {
    b.sinceClock = 0;
    if (b.spentMs + performance.now() - b.enteredAt > b.ms) throw new RecurrenceLimitError('time', b.ms);
  }
}

/** Runs fn charged to `b` (a slice of a longer walk); the outer budget, if any, is restored after. */
export function runWithBudget<T>(b: Budget, fn: () => T): T {
  const outer = active;
  active = b;
  b.enteredAt = performance.now();
  try {
    return fn();
  } finally {
    b.spentMs += performance.now() - b.enteredAt;
    active = outer;
  }
}

/** Runs fn with a budget of its own. */
export function withRecurrenceBudget<T>(fn: () => T, steps = DEFAULT_STEPS, ms = DEFAULT_MS): T {
  return runWithBudget(createBudget(steps, ms), fn);
}

type Proto = Record<string, (...a: unknown[]) => unknown>;

function wrap(proto: Proto, name: string, cost: (args: unknown[]) => number): void {
  const orig = proto[name];
  if (typeof orig !== 'function') throw new Error(`ical.js has no ${name}; the recurrence guard needs updating`);
  proto[name] = function (this: unknown, ...args: unknown[]) {
    charge(cost(args));
    return orig.apply(this, args);
  };
}

let installed = false;

/** Patches ical.js once per process. */
export function installRecurrenceGuard(): void {
  if (installed) return;
  installed = true;
  const it = ICAL.RecurIterator.prototype as unknown as Proto;
  // Every pass of next()'s inner loop tests the contracting rules once.
  wrap(it, 'check_contracting_rules', () => 1);
  const next = it.next;
  if (typeof next !== 'function') throw new Error('ical.js has no RecurIterator.next; the recurrence guard needs updating');
  it.next = function (this: unknown, ...args: unknown[]) {
    charge(1);
    const t = next.apply(this, args);
    // An instance found: the gap starts again.
    if (t && active) active.gap = 0;
    return t;
  };
  // Walks day by day: a huge INTERVAL would otherwise loop inside one step.
  wrap(it, 'increment_monthday', (a) => Math.max(1, Number(a[0]) || 1));
  wrap(it, 'expand_year_days', () => 8);

  const tz = ICAL.Timezone.prototype as unknown as Proto & { _ensureCoverage(y: number): void; expandedUntilYear: number };
  const utcOffset = tz.utcOffset;
  tz.utcOffset = function (this: InstanceType<typeof ICAL.Timezone>, ...args: unknown[]) {
    const tt = args[0] as InstanceType<typeof ICAL.Time>;
    if (this === ICAL.Timezone.utcTimezone || this === ICAL.Timezone.localTimezone) return 0;
    const self = this as unknown as { expandedUntilYear: number; _ensureCoverage(y: number): void; component: InstanceType<typeof ICAL.Component> };
    if (self.expandedUntilYear < TZ_HORIZON_YEAR) {
      // Every transition is held in memory: only yearly observances are expanded (zones.ts refuses others at PUT).
      for (const obs of self.component?.getAllSubcomponents() ?? []) {
        const r = obs.getFirstPropertyValue('rrule') as InstanceType<typeof ICAL.Recur> | null;
        if (r && r.freq !== 'YEARLY') throw new RecurrenceLimitError('zone');
      }
      // One expansion to the horizon instead of one every five years.
      self._ensureCoverage(TZ_HORIZON_YEAR);
    }
    if (tt.year <= TZ_HORIZON_YEAR) return utcOffset.call(this, tt);
    const shifted = tt.clone();
    shifted.year -= 28 * Math.ceil((tt.year - TZ_HORIZON_YEAR) / 28);
    return utcOffset.call(this, shifted);
  };
}
