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
 */
import type { EdgeKv } from './kv.js';
import type { HealthProbe, NodeApi } from './node-api.js';

export const FAILOVER_KEY = 'failover:v1';
export const DEFAULT_FAILOVER_AFTER_MS = 5 * 60_000;

export interface FailoverState {
  /** Scheduled time of the first failed probe of the current outage; null while the primary answers. */
  failingSince: number | null;
  /** The last promotion asked for, and what the standby said. */
  promotion: { at: number; status: number; promoted: boolean; error?: string } | null;
}

export type FailoverAction = { kind: 'none' } | { kind: 'promote' };

/** The rule, pure: what to do after a probe at `at`. */
export function decide(s: FailoverState, probeOk: boolean, at: number, afterMs: number): { state: FailoverState; action: FailoverAction } {
  if (probeOk) return { state: { failingSince: null, promotion: s.failingSince === null ? s.promotion : null }, action: { kind: 'none' } };
  const failingSince = s.failingSince ?? at;
  const state = { ...s, failingSince };
  // One successful promotion per outage; a refused or failed call is asked again on the next run.
  if (s.promotion?.promoted) return { state, action: { kind: 'none' } };
  return { state, action: at - failingSince >= afterMs ? { kind: 'promote' } : { kind: 'none' } };
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
  return { failingSince: null, promotion: null };
}

export interface FailoverDeps {
  kv: EdgeKv;
  /** The standby's admin API (signed with the same secret as the primary's). */
  standby: NodeApi;
  afterMs?: number;
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
      await deps.standby.call('POST', '/api/v1/promote');
      promoted = true;
      state.promotion = { at, status: 200, promoted: true };
    } catch (err) {
      const e = err as { status?: number; message: string };
      promoted = false;
      error = e.message;
      state.promotion = { at, status: e.status ?? 0, promoted: false, error: e.message.slice(0, 300) };
    }
  }
  if (JSON.stringify(state) !== JSON.stringify(before)) await deps.kv.put(FAILOVER_KEY, JSON.stringify(state));
  return { state, promoted, error };
}
