/**
 * @module edge/failover
 * Automatic promotion: after each scheduled probe of the primary, when the
 * primary has failed every probe for `afterMs` (default 5 minutes) and a
 * standby is configured (STANDBY_URL), the edge calls the standby's signed
 * POST /api/v1/promote once. The standby takes the next epoch in the replica
 * with a conditional write, so a promotion that races an operator's `haven
 * promote` still ends with one primary; the edge only asks.
 *
 * Time is the cron's scheduled minute, so a run that starts late counts for
 * its minute and the rule can be checked minute by minute. The state lives
 * in KV under its own key and is written only when it changes (first
 * failure, promotion, recovery). After a promotion the edge does not ask
 * again until the primary has been seen up (the promoted node, once the
 * floating addresses moved, answers at the same NODE_URL).
 *
 * The edge is one vantage point (wherever Cloudflare runs the cron), so the
 * call carries its evidence (failing since, failed probes in a row, and the
 * Cloudflare data centre the probes ran in, learnt from /cdn-cgi/trace since
 * a cron has no request.cf) and the standby, its own witness from its own
 * datacentre, may refuse it with 409 while it still reaches the primary
 * (node/failover/witness-rule). A refusal is kept in the state (the last
 * few, for the admin UI) and the edge asks again on the next run.
 */
import type { EdgeKv } from './kv.js';
import type { HealthProbe, NodeApi } from './node-api.js';

export const FAILOVER_KEY = 'failover:v1';
export const DEFAULT_FAILOVER_AFTER_MS = 5 * 60_000;
/** Refusals kept for the admin UI: one a minute while the standby disagrees, so only the latest. */
export const MAX_REFUSALS = 10;

export interface Refusal {
  at: number;
  reason: string;
}

export interface FailoverState {
  /** Scheduled time of the first failed probe of the current outage; null while the primary answers. */
  failingSince: number | null;
  /**
   * No longer kept (older state may carry it): a count that changes every
   * minute would cost a KV write a minute for a whole outage, past the free
   * plan's 1,000 a day; failedProbesSince derives it.
   */
  failedProbes?: number;
  /** The last promotion asked for, and what the standby said; refused: its witness disagreed (409). */
  promotion: { at: number; status: number; promoted: boolean; refused?: boolean; error?: string; tries?: number } | null;
  /** The standby's latest refusals (newest last), kept across outages for the failover history. */
  refusals?: Refusal[];
}

/** What the edge tells the standby it saw (node/failover/witness-rule's EdgeEvidence). */
export interface EdgeEvidence {
  failingSince: number;
  failedProbes: number;
  colo: string | null;
  lastError?: string;
}

export type FailoverAction = { kind: 'none' } | { kind: 'promote' };

const MINUTE = 60_000;
/** After this many refusals in one outage the edge asks at most every MAX_ASK_GAP_MINUTES. */
const MAX_ASK_GAP_MINUTES = 15;

/**
 * Failed probes in a row since `failingSince`: the cron runs once a minute
 * and `at` is its scheduled minute, and any probe that answered would have
 * ended the outage, so every minute since failed (a run Cloudflare skipped
 * is counted as failed: an upper bound by the skipped runs).
 */
export function failedProbesSince(failingSince: number, at: number): number {
  return Math.floor((at - failingSince) / MINUTE) + 1;
}

/**
 * The rule, pure: what to do after a probe at `at`. The state it returns
 * changes only when the outage starts or ends, or a promotion is asked, so
 * a long outage costs a few KV writes, not one a minute. A promotion that
 * failed (the standby refused: its own witness still sees the primary; or
 * it could not be reached) is asked again after 1, 2, 4, 8, then every 15
 * minutes.
 */
export function decide(s: FailoverState, probeOk: boolean, at: number, afterMs: number): { state: FailoverState; action: FailoverAction } {
  const { failedProbes: _dropped, ...kept } = s;
  if (probeOk) return { state: { ...kept, failingSince: null, promotion: s.failingSince === null ? s.promotion : null, refusals: s.refusals ?? [] }, action: { kind: 'none' } };
  const failingSince = s.failingSince ?? at;
  const state: FailoverState = { ...kept, failingSince, refusals: s.refusals ?? [] };
  // One successful promotion per outage.
  if (s.promotion?.promoted) return { state, action: { kind: 'none' } };
  if (at - failingSince < afterMs) return { state, action: { kind: 'none' } };
  const last = s.promotion && s.promotion.at >= failingSince ? s.promotion : null;
  if (last && at - last.at < Math.min(2 ** ((last.tries ?? 1) - 1), MAX_ASK_GAP_MINUTES) * MINUTE) return { state, action: { kind: 'none' } };
  return { state, action: { kind: 'promote' } };
}

export async function readFailoverState(kv: EdgeKv): Promise<FailoverState> {
  const raw = await kv.get(FAILOVER_KEY);
  if (raw) {
    try {
      return JSON.parse(raw) as FailoverState;
    } catch {
      // replaced below
    }
  }
  return { failingSince: null, promotion: null, refusals: [] };
}

/**
 * The Cloudflare data centre this run is in: a scheduled event has no
 * request.cf, but any subrequest leaves from the data centre running the
 * Worker, and /cdn-cgi/trace answers `colo=XXX` for it. Null when it cannot
 * be learnt (no trace URL, as in the local run; or no answer).
 */
export async function coloOf(traceUrl: string | undefined, f: typeof fetch = fetch): Promise<string | null> {
  if (!traceUrl) return null;
  try {
    const res = await f(traceUrl, { signal: AbortSignal.timeout(3000) });
    const m = /^colo=([A-Za-z0-9-]{1,16})$/m.exec(await res.text());
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

export interface FailoverDeps {
  kv: EdgeKv;
  /** The standby's admin API (signed with the same secret as the primary's). */
  standby: NodeApi;
  afterMs?: number;
  /** Where this run is (coloOf); asked only when a promotion is. */
  colo?: () => Promise<string | null>;
}

export interface FailoverOutcome {
  state: FailoverState;
  promoted: boolean | null;
  error?: string;
}

export async function runFailover(deps: FailoverDeps, probe: HealthProbe, at: number): Promise<FailoverOutcome> {
  const before = await readFailoverState(deps.kv);
  const { state, action } = decide(before, probe.ok, at, deps.afterMs ?? DEFAULT_FAILOVER_AFTER_MS);
  let promoted: boolean | null = null;
  let error: string | undefined;
  if (action.kind === 'promote') {
    try {
      const evidence: EdgeEvidence = { failingSince: state.failingSince!, failedProbes: failedProbesSince(state.failingSince!, at), colo: (await deps.colo?.()) ?? null, ...(probe.error ? { lastError: probe.error.slice(0, 300) } : {}) };
      await deps.standby.call('POST', '/api/v1/promote', { evidence });
      promoted = true;
      state.promotion = { at, status: 200, promoted: true };
    } catch (err) {
      const e = err as { status?: number; message: string };
      promoted = false;
      error = e.message;
      // 409 is the standby's answer, not a fault: its witness still sees the primary, or another node took the epoch.
      const refused = e.status === 409;
      const prev = before.promotion && state.failingSince !== null && before.promotion.at >= state.failingSince ? before.promotion : null;
      state.promotion = { at, status: e.status ?? 0, promoted: false, ...(refused ? { refused } : {}), error: e.message.slice(0, 300), tries: (prev?.tries ?? 0) + 1 };
      if (refused) state.refusals = [...(state.refusals ?? []), { at, reason: e.message.slice(0, 300) }].slice(-MAX_REFUSALS);
    }
  }
  if (JSON.stringify(state) !== JSON.stringify(before)) await deps.kv.put(FAILOVER_KEY, JSON.stringify(state));
  return { state, promoted, error };
}
