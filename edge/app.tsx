/**
 * @module edge/app
 * `createEdgeApp(deps)`: the whole edge as one Hono app, the same in a
 * Cloudflare Worker (edge/worker.ts) and in Node next to a local node
 * (edge/node.ts). Order matters: security headers on everything; set-up
 * documents and public pages before the session; then login; then the admin
 * pages behind the session and CSRF checks.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { EdgeDeps, EdgeEnv } from './context.js';
import { Edge, errorText, InputError } from './edge.js';
import { NodeApiError } from './node-api.js';
import { runProbe, type ProbeOutcome } from './probe.js';
import { coloOf, runFailover, type FailoverOutcome } from './failover.js';
import { NodeApi } from './node-api.js';
import { registerAccounts } from './routes/accounts.js';
import { loadSession, registerAuth, requireAdmin } from './routes/auth.js';
import { registerDashboard } from './routes/dashboard.js';
import { registerDomains } from './routes/domains.js';
import { registerMail } from './routes/mail.js';
import { registerPublic } from './routes/public.js';
import { errorPage } from './routes/render.js';
import { registerSetup } from './routes/setup.js';

const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SETUP_PATHS = new Set(['/.well-known/mta-sts.txt', '/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml', '/autodiscover/autodiscover.xml', '/health']);

export interface EdgeApp {
  app: Hono<EdgeEnv>;
  edge: Edge;
  /**
   * One scheduled probe run (the Worker's cron handler; a timer in the local
   * run). `scheduledTime` is the cron's planned time in unix ms, which decides
   * the five-minute KV writes (edge/probe.ts).
   */
  probe(opts?: { scheduledTime?: number }): Promise<ProbeOutcome & { failover?: FailoverOutcome }>;
}

export function createEdgeApp(deps: EdgeDeps): EdgeApp {
  const edge = new Edge(deps);
  const app = new Hono<EdgeEnv>();

  app.use('*', async (c, next) => {
    await next();
    c.header('content-security-policy', CSP);
    c.header('x-content-type-options', 'nosniff');
    c.header('x-frame-options', 'DENY');
    // same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on our own form POSTs.
    c.header('referrer-policy', 'same-origin');
    if (new URL(c.req.url).protocol === 'https:') c.header('strict-transport-security', 'max-age=31536000');
  });

  // mta-sts.<domain>, autoconfig.<domain> and autodiscover.<domain> serve set-up documents and nothing else:
  // the admin UI stays on its own host name.
  app.use('*', async (c, next) => {
    const u = new URL(c.req.url);
    if (/^(mta-sts|autoconfig|autodiscover)\./i.test(u.hostname) && !SETUP_PATHS.has(u.pathname.toLowerCase())) {
      return c.text('not found: this host serves mail client set-up only\n', 404);
    }
    await next();
  });

  registerSetup(app, edge);
  registerPublic(app, edge);
  app.use('*', loadSession(edge));
  registerAuth(app, edge);
  app.use('*', requireAdmin(edge));
  registerDashboard(app, edge);
  registerDomains(app, edge);
  registerAccounts(app, edge);
  registerMail(app, edge);

  app.notFound((c) => errorPage(c, edge, 404, 'Not found', `There is no page at ${new URL(c.req.url).pathname}: pick one from the menu above.`));

  app.onError((err, c) => {
    if (err instanceof HTTPException) return errorPage(c, edge, err.status as 400, 'Configuration needed', err.message);
    if (err instanceof InputError) return errorPage(c, edge, 404, 'Not found', err.message);
    // The node's 4xx (no such domain, bad name) are the admin's to fix; anything else is the node's trouble.
    if (err instanceof NodeApiError && err.status >= 400 && err.status < 500 && err.status !== 401) return errorPage(c, edge, err.status as 400, 'The node could not do that', err.message);
    const text = errorText(err);
    if (text !== null) return errorPage(c, edge, 502, 'The node could not do that', text);
    console.error('edge: unexpected error', err);
    return errorPage(c, edge, 500, 'Something went wrong', 'The edge hit an unexpected error; it is in the Worker\'s log (`wrangler tail`) or the local run\'s output. Reload to try again.');
  });

  // Promotion waits for the standby to apply the replica's last objects and start serving: give it a minute.
  const standby = deps.standbyUrl && deps.edgeSecret ? new NodeApi({ baseUrl: deps.standbyUrl, secret: deps.edgeSecret, fetch: deps.nodeFetch, timeoutMs: 60_000 }) : null;
  return {
    app,
    edge,
    probe: async (opts) => {
      const outcome = await runProbe({ kv: deps.kv, node: edge.node(), alertWebhook: deps.alertWebhook, fetch: deps.fetch, now: edge.now, scheduledTime: opts?.scheduledTime });
      if (!standby) return outcome;
      const failover = await runFailover({ kv: deps.kv, standby, afterMs: deps.failoverAfterMs, colo: () => coloOf(deps.coloTraceUrl, deps.fetch) }, outcome.probe, opts?.scheduledTime ?? edge.now());
      return { ...outcome, failover };
    },
  };
}
