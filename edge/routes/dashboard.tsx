/**
 * @module edge/routes/dashboard
 * The first page after login: is the node healthy right now, what does each
 * part of it report, and how has it been lately (the probe history).
 */
import type { Hono } from 'hono';
import type { EdgeEnv } from '../context.js';
import type { Edge } from '../edge.js';
import type { DomainInfo, NodeHealth } from '../node-api.js';
import { readProbeState } from '../probe.js';
import { readFailoverState, type FailoverState } from '../failover.js';
import type { StandbyHealth } from '../node-api.js';
import { HistoryChart } from '../views/chart.js';
import { bytes, seconds } from '../views/format.js';
import { Badge, Stat, type Health } from '../views/layout.js';
import type { JobView } from '../../node/transfer/jobs.js';
import { formatProgress, type ProgressSnapshot } from '../../node/transfer/progress.js';
import { render } from './render.js';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function certKind(days: number | null | undefined): Health {
  if (days == null) return 'unk';
  return days < 7 ? 'bad' : days < 21 ? 'warn' : 'ok';
}

const Parts = ({ h }: { h: NodeHealth }) => (
  <>
    <div class="grid">
      <Stat label="Store" kind={h.store ? (h.store.ok ? 'ok' : 'bad') : 'unk'}>{h.store ? (h.store.ok ? 'ok' : 'failing') : 'unknown'}</Stat>
      <Stat label="Replication" kind={!h.replication ? 'unk' : !h.replication.enabled ? 'warn' : h.replication.ok ? 'ok' : 'bad'}>
        {!h.replication ? 'unknown' : !h.replication.enabled ? 'off' : `lag ${seconds(h.replication.lagSeconds)}`}
      </Stat>
      <Stat label="Outbound queue">{h.queue ? `${h.queue.depth} message${h.queue.depth === 1 ? '' : 's'}${h.queue.oldestSeconds ? `, oldest ${seconds(h.queue.oldestSeconds)}` : ''}` : '—'}</Stat>
      <Stat label="Certificate" kind={certKind(h.certificate?.daysLeft)}>{h.certificate?.daysLeft != null ? `${h.certificate.daysLeft} days left` : 'unknown'}</Stat>
      <Stat label="Free disk" kind={h.disk ? (h.disk.ok ? 'ok' : 'bad') : 'unk'}>{bytes(h.disk?.freeBytes)}</Stat>
      {h.spam ? (
        <Stat label="Spam filter (rspamd)" kind={h.spam.rspamd === 'up' ? 'ok' : h.spam.rspamd === 'down' ? 'bad' : 'unk'}>
          {h.spam.rspamd === 'down' ? `down${h.spam.sinceSeconds != null ? ` for ${seconds(h.spam.sinceSeconds)}` : ''}: Haven's own score decides` : h.spam.rspamd === 'up' ? 'answering' : 'not asked yet'}
        </Stat>
      ) : null}
      {h.role ? (
        <Stat label="Role" kind={h.role.ok ? 'ok' : 'bad'}>
          {h.role.ok ? `primary${h.role.epoch !== null ? ` (epoch ${h.role.epoch})` : ''}` : `${h.role.role}: epoch ${h.role.epoch ?? '?'}, newer ${h.role.newerEpoch ?? '?'} elsewhere`}
        </Stat>
      ) : null}
      <Stat label="Version">{h.version ?? '—'}</Stat>
    </div>
    {h.listeners && Object.keys(h.listeners).length ? (
      <>
        <h2>Listeners</h2>
        <p>
          {Object.entries(h.listeners).map(([name, up]) => (
            <>
              <Badge kind={up ? 'ok' : 'bad'}>{`${name} ${up ? 'accepting' : 'down'}`}</Badge>{' '}
            </>
          ))}
        </p>
      </>
    ) : null}
  </>
);

/** A job as GET /api/v1/transfers lists it; the dashboard does not show the manifest. */
type TransferInfo = Omit<JobView, 'manifest'>;

const phaseKind = (p: ProgressSnapshot['phase']): Health => (p === 'failed' ? 'bad' : p === 'done' ? 'ok' : p === 'cancelled' ? 'warn' : 'unk');

/** The operator's imports and exports (`haven import`, `haven export`) with their progress; the page refreshes while one runs. */
const Transfers = ({ list }: { list: TransferInfo[] }) => (
  <>
    <h2>Imports and exports</h2>
    <table>
      <thead>
        <tr>
          <th>Account</th>
          <th>Job</th>
          <th>Progress</th>
        </tr>
      </thead>
      <tbody>
        {list.map((t) => (
          <tr>
            <td>{t.address}</td>
            <td>
              {t.kind} <span class="mono">{t.what}</span>
            </td>
            <td>
              <Badge kind={phaseKind(t.progress.phase)}>{t.progress.phase}</Badge> {formatProgress(t.progress)}
              {t.progress.error ? <p class="flash error">{t.progress.error}</p> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </>
);

/** The standby's unsigned /health; null when it does not answer. */
async function standbyHealth(edge: Edge): Promise<StandbyHealth | null> {
  try {
    const f = edge.deps.nodeFetch ?? fetch;
    const res = await f(`${edge.deps.standbyUrl!.replace(/\/+$/, '')}/health`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
    return (await res.json()) as StandbyHealth;
  } catch {
    return null;
  }
}

const Standby = ({ url, s, f }: { url: string; s: StandbyHealth | null; f: FailoverState }) => (
  <>
    <h2>Standby</h2>
    <div class="grid">
      <Stat label="Standby" kind={!s ? 'bad' : s.ok ? 'ok' : 'warn'}>{!s ? 'unreachable' : s.role === 'standby' ? `following, lag ${seconds(s.follow?.lagSeconds ?? null)}` : s.role}</Stat>
      <Stat label="Automatic failover" kind={f.promotion && !f.promotion.promoted ? (f.promotion.refused ? 'warn' : 'bad') : f.failingSince ? 'warn' : 'ok'}>
        {f.promotion
          ? f.promotion.promoted
            ? `promoted ${new Date(f.promotion.at).toISOString()}`
            : f.promotion.refused
              ? `refused by the standby ${new Date(f.promotion.at).toISOString()}`
              : `promotion failed: ${f.promotion.error ?? f.promotion.status}`
          : f.failingSince
            ? `primary failing since ${new Date(f.failingSince).toISOString()}`
            : 'armed'}
      </Stat>
      <Stat label="Standby's witness" kind={!s?.witness?.enabled ? 'warn' : s.witness.primaryUp ? 'ok' : 'bad'}>
        {!s ? 'unknown' : !s.witness?.enabled ? 'off: the standby takes the edge\'s word' : s.witness.primaryUp === null ? 'not checked yet' : s.witness.primaryUp ? 'sees the primary up' : `primary failing from there since ${s.witness.failingSince}`}
      </Stat>
    </div>
    {s?.witness?.checks.length ? <p class="small muted">From the standby: {s.witness.checks.map((c) => `${c.name} ${c.ok ? 'up' : 'down'} (${c.detail})`).join(', ')}</p> : null}
    {f.refusals?.length ? (
      <>
        <h2>Refused promotions</h2>
        <table>
          <tr>
            <th>at</th>
            <th>the standby said</th>
          </tr>
          {f.refusals.map((r) => (
            <tr>
              <td>{new Date(r.at).toISOString()}</td>
              <td>{r.reason}</td>
            </tr>
          ))}
        </table>
      </>
    ) : null}
    <p>
      <span class="mono">{url}</span>
      {s?.follow?.lastError ? <span class="flash error"> {s.follow.lastError}</span> : null}
    </p>
    {s?.history?.length ? (
      <>
        <h2>Failover history</h2>
        <table>
          <tr>
            <th>epoch</th>
            <th>since</th>
            <th>how</th>
          </tr>
          {s.history.map((h) => (
            <tr>
              <td>{h.epoch}</td>
              <td>{new Date(h.at).toISOString()}</td>
              <td>{h.how === 'promote' ? 'failover (promotion)' : h.how === 'rebuild' ? 'rebuilt from the replica' : 'first start'}</td>
            </tr>
          ))}
        </table>
      </>
    ) : null}
  </>
);

export function registerDashboard(app: Hono<EdgeEnv>, edge: Edge): void {
  app.get('/', async (c) => {
    const probe = await edge.node().health(edge.now);
    const state = await readProbeState(edge.deps.kv);
    // Counts only from a healthy node: an unhealthy one should not turn the dashboard into an error page.
    const domains = probe.ok ? (await edge.node().get<{ domains: DomainInfo[] }>('/api/v1/domains')).domains : null;
    // A node older than the transfers endpoint answers 404: the panel is left out, not the page.
    const transfers = probe.ok ? await edge.node().get<{ transfers: TransferInfo[] }>('/api/v1/transfers').then((r) => r.transfers, () => []) : [];
    const running = transfers.some((t) => t.progress.phase === 'running' || t.progress.phase === 'starting');
    return render(
      c,
      edge,
      'Dashboard',
      <>
        <h1>
          Node health <Badge kind={probe.ok ? 'ok' : 'bad'}>{probe.ok ? 'healthy' : probe.status ? 'unhealthy' : 'unreachable'}</Badge>
        </h1>
        <div class="card">
          <p>
            <span class="mono">{edge.node().baseUrl}</span> answered {probe.status ? `${probe.status} in ${probe.ms} ms` : 'nothing'}.
          </p>
          {probe.error ? <p class="flash error">{probe.error}</p> : null}
        </div>
        {domains ? (
          <p>
            <a href="/domains">{plural(domains.length, 'domain')}</a> · <a href="/accounts">{plural(domains.reduce((n, d) => n + (d.accounts ?? 0), 0), 'account')}</a> ·{' '}
            <a href="/aliases">{plural(domains.reduce((n, d) => n + (d.aliases ?? 0), 0), 'alias', 'aliases')}</a>
            {domains.length === 0 ? <> — start by <a href="/domains">adding your domain</a>.</> : null}
          </p>
        ) : null}
        {probe.health ? <Parts h={probe.health} /> : null}
        {transfers.length ? <Transfers list={transfers} /> : null}
        {running ? <meta http-equiv="refresh" content="5" /> : null}
        {edge.deps.standbyUrl ? <Standby url={edge.deps.standbyUrl} s={await standbyHealth(edge)} f={await readFailoverState(edge.deps.kv)} /> : null}
        <h2>Recent history</h2>
        <HistoryChart history={state.history} />
        {state.alerted === 'down' ? <p class="flash error">The scheduled probe considers the node down since {new Date(state.downSince ?? 0).toISOString()}; the alert webhook was called.</p> : null}
      </>,
    );
  });
}
