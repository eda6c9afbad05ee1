/**
 * @module node/failover/witness-rule
 * The standby as a second witness (issue 19): the edge sees the primary
 * from wherever Cloudflare runs its cron, one vantage point, so a broken
 * path between Cloudflare and the primary would look like a dead primary.
 * The standby checks the primary from its own datacentre and agrees to an
 * automatic promotion only when it, too, has seen the primary fail, for at
 * least the agreement window. This module is the rule and its state, pure:
 * node/failover/witness does the looking.
 *
 * What counts as "up": any one of the checks passing (the primary's /health
 * answering 200 with ok not false, its SMTP port greeting 220, its IMAPS port
 * completing TLS and greeting `* OK`). Each of those is the primary's own
 * event loop answering someone, so a node any of them passes is alive and
 * holding its epoch: promoting it would fence a node that is still serving
 * (safe, but a needless failover). A bare TCP connect is not enough: the
 * kernel accepts connections into the backlog of a process whose event loop
 * is stuck, and such a process serves nobody. A primary that is alive but
 * unwell (a 503 from /health while SMTP greets) is an operator's call:
 * `haven promote` stays unconditional.
 */

export interface CheckResult {
  name: 'health' | 'smtp' | 'imaps';
  ok: boolean;
  /** What was seen: the status and greeting, or why it failed. */
  detail: string;
}

export interface WitnessState {
  /** When the first check of the current failure ran; null while the primary answers (or before any check). */
  failingSince: number | null;
  /** Failed rounds in a row. */
  failedRounds: number;
  last: { at: number; up: boolean; checks: CheckResult[] } | null;
}

export const INITIAL_WITNESS: WitnessState = { failingSince: null, failedRounds: 0, last: null };

/** A round of checks at `at` is in: the next state. */
export function observe(s: WitnessState, at: number, checks: CheckResult[]): WitnessState {
  const up = checks.some((c) => c.ok);
  const last = { at, up, checks };
  if (up) return { failingSince: null, failedRounds: 0, last };
  return { failingSince: s.failingSince ?? at, failedRounds: s.failedRounds + 1, last };
}

/** What the edge says it saw (the body of its POST /api/v1/promote). */
export interface EdgeEvidence {
  /** When the edge's first failed probe of this outage ran (unix ms, the cron's scheduled time). */
  failingSince: number;
  /** Failed probes in a row, one a minute. */
  failedProbes: number;
  /** Where the probes ran: Cloudflare's data centre code (colo) when the edge could learn it, else null. */
  colo: string | null;
  /** The edge's last failure, in its words. */
  lastError?: string;
}

export interface WitnessRule {
  /** False when the witness is not configured (failover.witness.host empty): the standby then takes the edge's word, as before. */
  enabled: boolean;
  agreementMs: number;
  /** A last round older than this is no evidence (the witness loop stalled or has not run yet). */
  staleMs: number;
}

export type Verdict = { agree: true; why: string } | { agree: false; why: string };

// Floored: "only 119 s" must not read as the 120 s it falls short of.
const secs = (ms: number) => `${Math.floor(ms / 1000)} s`;

/** Whether the standby agrees to the edge's automatic promotion at `now`. */
export function judge(rule: WitnessRule, s: WitnessState, now: number, evidence: EdgeEvidence | null): Verdict {
  const edgeSide = evidence ? `; the edge has seen it fail since ${new Date(evidence.failingSince).toISOString()} (${evidence.failedProbes} probes${evidence.colo ? ` from ${evidence.colo}` : ''})` : '';
  if (!rule.enabled) return { agree: true, why: `no witness configured on the standby (failover.witness.host): taking the edge's word${edgeSide}` };
  if (!s.last) return { agree: false, why: 'the standby has not checked the primary yet; it agrees only to what it has seen itself' };
  if (now - s.last.at > rule.staleMs) return { agree: false, why: `the standby's last check of the primary is ${secs(now - s.last.at)} old; it agrees only on fresh evidence` };
  if (s.last.up) {
    const seen = s.last.checks.filter((c) => c.ok).map((c) => `${c.name}: ${c.detail}`).join(', ');
    return { agree: false, why: `the standby still reaches the primary (${seen}) at ${new Date(s.last.at).toISOString()}: the edge's failures look like a path fault between Cloudflare and the primary` };
  }
  const age = now - (s.failingSince ?? now);
  if (age < rule.agreementMs) return { agree: false, why: `the standby has seen the primary fail for only ${secs(age)} (${s.failedRounds} rounds); it agrees after ${secs(rule.agreementMs)}` };
  return { agree: true, why: `the standby has seen the primary fail for ${secs(age)} (${s.failedRounds} rounds: ${s.last.checks.map((c) => `${c.name}: ${c.detail}`).join(', ')})${edgeSide}` };
}

/** The edge's evidence from a request body, or a reason it is malformed. Absent (an older edge) is null. */
export function parseEvidence(body: unknown): { ok: true; evidence: EdgeEvidence | null } | { ok: false; reason: string } {
  if (body === undefined || body === null) return { ok: true, evidence: null };
  const e = (body as { evidence?: unknown }).evidence;
  if (e === undefined) return { ok: true, evidence: null };
  const o = e as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) return { ok: false, reason: 'evidence must be an object' };
  if (typeof o.failingSince !== 'number' || !Number.isFinite(o.failingSince)) return { ok: false, reason: 'evidence.failingSince must be unix milliseconds' };
  if (typeof o.failedProbes !== 'number' || !Number.isInteger(o.failedProbes) || o.failedProbes < 0) return { ok: false, reason: 'evidence.failedProbes must be a count' };
  if (o.colo !== null && o.colo !== undefined && (typeof o.colo !== 'string' || !/^[A-Za-z0-9-]{1,16}$/.test(o.colo))) return { ok: false, reason: 'evidence.colo must be a Cloudflare data centre code or null' };
  return {
    ok: true,
    evidence: { failingSince: o.failingSince, failedProbes: o.failedProbes, colo: (o.colo as string | undefined) ?? null, ...(typeof o.lastError === 'string' ? { lastError: o.lastError.slice(0, 300) } : {}) },
  };
}
