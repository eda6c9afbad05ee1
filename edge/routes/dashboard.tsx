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
import { HistoryChart } from '../views/chart.js';
import { bytes, seconds } from '../views/format.js';
import { Badge, Stat, type Health } from '../views/layout.js';
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

export function registerDashboard(app: Hono<EdgeEnv>, edge: Edge): void {
  app.get('/', async (c) => {
    const probe = await edge.node().health(edge.now);
    const state = await readProbeState(edge.deps.kv);
    // Counts only from a healthy node: an unhealthy one should not turn the dashboard into an error page.
    const domains = probe.ok ? (await edge.node().get<{ domains: DomainInfo[] }>('/api/v1/domains')).domains : null;
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
        <h2>Recent history</h2>
        <HistoryChart history={state.history} />
        {state.alerted === 'down' ? <p class="flash error">The scheduled probe considers the node down since {new Date(state.downSince ?? 0).toISOString()}; the alert webhook was called.</p> : null}
      </>,
    );
  });
}
