/**
 * @module edge/probe
 * The outside view of the node: each scheduled run (every minute) fetches its
 * /health and calls the alert webhook when the node goes down and when it
 * comes back — once each, not every run.
 *
 * KV is written only when something changed (the probe's verdict flipped, an
 * alert went out) and otherwise once every KEEP_EVERY_MINUTES: one write a
 * minute would be 1,440 a day, above the 1,000 KV writes a day of the
 * Workers free plan, while a steady node needs no more than one point per
 * five minutes. So the history holds every transition at once and steady
 * stretches at five-minute resolution (about 290 writes a day).
 *
 * "Down" means DOWN_AFTER failed probes in a row, so one lost packet does not
 * page anyone. A webhook call that fails is retried on the next run.
 */
import type { EdgeKv } from './kv.js';
import type { HealthProbe, NodeApi } from './node-api.js';

export const PROBE_KEY = 'probe:v1';
/** Five days of history at one kept point per five minutes. */
export const MAX_HISTORY = 1440;
export const DOWN_AFTER = 2;
/** Steady runs are kept when the scheduled minute is a multiple of this. */
export const KEEP_EVERY_MINUTES = 5;
const MINUTE = 60_000;

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
  /**
   * When the cron trigger meant this run to happen (the Worker's
   * controller.scheduledTime), so a run that starts a few seconds late still
   * counts for its minute; default now().
   */
  scheduledTime?: number;
}

export interface ProbeOutcome {
  probe: HealthProbe;
  alert: 'down' | 'up' | null;
  alertError?: string;
  /** Whether this run wrote its result to KV (see the module header). */
  kept: boolean;
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
  const last = s.history.at(-1);
  const minute = Math.floor((deps.scheduledTime ?? at) / MINUTE);
  // The age check covers a skipped cron run or a local timer that drifted past the minute.
  let keep = !last || last.ok !== probe.ok || minute % KEEP_EVERY_MINUTES === 0 || at - last.t >= KEEP_EVERY_MINUTES * MINUTE;
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
        keep = true;
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
        keep = true;
      }
    }
  }
  // A run that is not kept leaves KV as it was: its failure count is re-derived
  // next run from the last kept one, which is exact while nothing changes.
  if (keep) await deps.kv.put(PROBE_KEY, JSON.stringify(s));
  return { probe, alert, alertError, kept: keep };
}
