/**
 * @module edge/probe
 * The outside view of the node: each scheduled run fetches its /health, keeps
 * the result in KV (bounded; one KV write per run, because KV's free tier
 * allows 1,000 writes a day) and calls the alert webhook when the node goes
 * down and when it comes back — once each, not every run.
 *
 * "Down" means DOWN_AFTER failed probes in a row, so one lost packet does not
 * page anyone. A webhook call that fails is retried on the next run.
 */
import type { EdgeKv } from './kv.js';
import type { HealthProbe, NodeApi } from './node-api.js';

export const PROBE_KEY = 'probe:v1';
/** A day of history at one probe a minute. */
export const MAX_HISTORY = 1440;
export const DOWN_AFTER = 2;

export interface ProbeRecord {
  /** Unix milliseconds. */
  t: number;
  ok: boolean;
  /** HTTP status, 0 when the node did not answer. */
  status: number;
  ms: number;
  error?: string;
}

export interface ProbeState {
  history: ProbeRecord[];
  /** Failed probes in a row. */
  failures: number;
  /** The last alert the webhook took: so each transition alerts once. */
  alerted: 'down' | 'up' | null;
  /** When the current down period began (unix ms), for the recovery message. */
  downSince: number | null;
}

export async function readProbeState(kv: EdgeKv): Promise<ProbeState> {
  const raw = await kv.get(PROBE_KEY);
  if (raw) {
    try {
      const s = JSON.parse(raw) as ProbeState;
      if (Array.isArray(s.history)) return s;
    } catch {
      // A corrupt value is replaced by the next run.
    }
  }
  return { history: [], failures: 0, alerted: null, downSince: null };
}

export interface ProbeDeps {
  kv: EdgeKv;
  node: NodeApi;
  alertWebhook?: string;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface ProbeOutcome {
  probe: HealthProbe;
  alert: 'down' | 'up' | null;
  alertError?: string;
}

async function notify(deps: ProbeDeps, event: 'down' | 'up', text: string, probe: HealthProbe, at: number): Promise<string | undefined> {
  if (!deps.alertWebhook) return undefined;
  // `text` for Slack and most chat tools, `content` for Discord; the rest for anything that parses JSON.
  const payload = { text, content: text, event, node: deps.node.baseUrl, at: new Date(at).toISOString(), status: probe.status, error: probe.error ?? null };
  try {
    const res = await (deps.fetch ?? fetch)(deps.alertWebhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(10_000),
    });
    return res.ok ? undefined : `the alert webhook answered ${res.status}: check ALERT_WEBHOOK`;
  } catch (err) {
    return `the alert webhook could not be reached (${(err as Error).message}): check ALERT_WEBHOOK`;
  }
}

function duration(ms: number): string {
  const m = Math.round(ms / 60000);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** One scheduled run. */
export async function runProbe(deps: ProbeDeps): Promise<ProbeOutcome> {
  const now = deps.now ?? Date.now;
  const probe = await deps.node.health(now);
  const at = now();
  const s = await readProbeState(deps.kv);
  s.history.push({ t: at, ok: probe.ok, status: probe.status, ms: probe.ms, ...(probe.error ? { error: probe.error.slice(0, 300) } : {}) });
  if (s.history.length > MAX_HISTORY) s.history.splice(0, s.history.length - MAX_HISTORY);

  let alert: 'down' | 'up' | null = null;
  let alertError: string | undefined;
  if (probe.ok) {
    if (s.alerted === 'down') {
      const since = s.downSince ?? at;
      alertError = await notify(deps, 'up', `Haven node ${deps.node.baseUrl} is back up after ${duration(at - since)}.`, probe, at);
      if (!alertError) {
        s.alerted = 'up';
        alert = 'up';
      }
    }
    if (s.alerted !== 'down') s.downSince = null;
    s.failures = 0;
  } else {
    s.failures++;
    if (s.failures === 1) s.downSince = at;
    if (s.failures >= DOWN_AFTER && s.alerted !== 'down') {
      alertError = await notify(deps, 'down', `Haven node ${deps.node.baseUrl} is DOWN: ${probe.error ?? `status ${probe.status}`}`, probe, at);
      if (!alertError) {
        s.alerted = 'down';
        alert = 'down';
      }
    }
  }
  await deps.kv.put(PROBE_KEY, JSON.stringify(s));
  return { probe, alert, alertError };
}
