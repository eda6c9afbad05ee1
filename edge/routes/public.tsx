/**
 * @module edge/routes/public
 * What anyone may fetch: the edge's own /health, /status (a page for people,
 * JSON for monitors) built from the scheduled probe's history plus a live
 * probe, and the stylesheet.
 */
import type { Hono } from 'hono';
import type { EdgeEnv } from '../context.js';
import type { Edge } from '../edge.js';
import { readProbeState } from '../probe.js';
import { HistoryChart } from '../views/chart.js';
import { Badge } from '../views/layout.js';
import { CSS } from '../views/style.js';
import { render } from './render.js';

export function registerPublic(app: Hono<EdgeEnv>, edge: Edge): void {
  app.get('/health', (c) => {
    c.header('cache-control', 'no-store');
    return c.json({ ok: true, service: 'haven-edge', version: edge.deps.version ?? null, time: new Date(edge.now()).toISOString() });
  });

  // Browsers ask for it on every site; without this it would redirect to the login page.
  app.get('/favicon.ico', (c) => {
    c.header('cache-control', 'public, max-age=86400');
    return c.body(null, 204);
  });

  app.get('/assets/app.css', (c) => {
    c.header('content-type', 'text/css; charset=utf-8');
    c.header('cache-control', 'public, max-age=3600');
    return c.body(CSS);
  });

  app.get('/status', async (c) => {
    const probe = edge.api ? await edge.api.health(edge.now) : { ok: false, status: 0, ms: 0, error: edge.configProblem() ?? 'the node is not configured' };
    const state = await readProbeState(edge.deps.kv);
    const recent = state.history.slice(-60);
    const day = state.history;
    const uptime = day.length ? day.filter((h) => h.ok).length / day.length : null;
    const wantsJson = c.req.query('format') === 'json' || (c.req.header('accept') ?? '').split(',')[0].trim() === 'application/json';
    c.header('cache-control', 'no-store');
    // Public: says whether the node is up, never what is inside it.
    const body = {
      ok: probe.ok,
      checkedAt: new Date(edge.now()).toISOString(),
      node: { ok: probe.ok, status: probe.status, ms: probe.ms },
      down: state.alerted === 'down',
      downSince: state.downSince ? new Date(state.downSince).toISOString() : null,
      uptime: uptime === null ? null : Math.round(uptime * 10000) / 100,
      history: recent.map((h) => ({ t: new Date(h.t).toISOString(), ok: h.ok, ms: h.ms })),
    };
    if (wantsJson) return c.json(body, probe.ok ? 200 : 503);
    return render(
      c,
      edge,
      'Status',
      <>
        <h1>
          Mail service status <Badge kind={probe.ok ? 'ok' : 'bad'}>{probe.ok ? 'operational' : 'down'}</Badge>
        </h1>
        <div class="card">
          <p>
            {probe.ok
              ? `The mail node answered its health check in ${probe.ms} ms just now.`
              : `The mail node did not pass its health check just now (${probe.status ? `status ${probe.status}` : 'no answer'}). The administrators have been alerted if the failure persists.`}
          </p>
          {uptime !== null ? <p class="muted">Healthy in {(uptime * 100).toFixed(2)}% of the last {day.length} scheduled checks.</p> : null}
        </div>
        <h2>Recent checks</h2>
        <HistoryChart history={day} />
        <p class="small muted">
          As JSON: <a href="/status?format=json">/status?format=json</a>
        </p>
      </>,
      probe.ok ? 200 : 503,
    );
  });
}
