/**
 * @module edge/worker
 * The Cloudflare Worker entry: builds the edge app from the Worker's bindings
 * once per isolate, serves requests, and runs the node probe from the cron
 * trigger.
 *
 * Bindings (wrangler.toml or the Pulumi program in infra/edge.ts):
 *   NODE_URL              the node's HTTPS URL, e.g. https://mail.example.com
 *   EDGE_SHARED_SECRET    HMAC secret shared with the node's admin API
 *   ADMIN_PASSWORD_HASH   pbkdf2-sha256$… from `npx tsx edge/hash-password.ts`
 *   SESSION_SECRET        signs session cookies (optional: derived from the shared secret if unset)
 *   KV                    a KV namespace: probe history, login attempts, revoked sessions
 *   ALERT_WEBHOOK         optional URL POSTed JSON when the node goes down and comes back
 *   ACCESS_AUD, ACCESS_TEAM  optional Cloudflare Access application audience tag and team name
 *   MAIL_HOST, MAIL_DOMAINS  optional: mail host (default NODE_URL's host), comma-separated domains
 *   POP3                  "false" when the node offers no POP3 (default true)
 *   DNS_CHECK             "off" to skip the liveness check of DNS records, or a DNS-over-HTTPS JSON
 *                         endpoint to use instead of https://cloudflare-dns.com/dns-query
 *   MTA_STS_MODE, MTA_STS_MAX_AGE  must match what node/dns publishes (default enforce, 604800)
 *   STANDBY_URL           optional: a standby node's HTTPS URL; promoted when the node has failed
 *                         every probe for FAILOVER_AFTER_SECONDS (default 300) (edge/failover.ts)
 *   COLO_TRACE            where the cron learns its Cloudflare data centre for the promotion's evidence
 *                         (default https://www.cloudflare.com/cdn-cgi/trace; "off" sends none)
 */
import { createEdgeApp, type EdgeApp } from './app.js';
import type { EdgeDeps } from './context.js';
import { createDohChecker } from './dns-check.js';
import { MemoryKv, type EdgeKv } from './kv.js';
import type { MtaStsMode } from '../node/dns/index.js';

export interface WorkerEnv {
  NODE_URL?: string;
  EDGE_SHARED_SECRET?: string;
  ADMIN_PASSWORD_HASH?: string;
  SESSION_SECRET?: string;
  KV?: EdgeKv;
  ALERT_WEBHOOK?: string;
  ACCESS_AUD?: string;
  ACCESS_TEAM?: string;
  MAIL_HOST?: string;
  MAIL_DOMAINS?: string;
  POP3?: string;
  DNS_CHECK?: string;
  MTA_STS_MODE?: string;
  MTA_STS_MAX_AGE?: string;
  VERSION?: string;
  STANDBY_URL?: string;
  FAILOVER_AFTER_SECONDS?: string;
  COLO_TRACE?: string;
}

interface ExecutionContextLike {
  waitUntil(p: Promise<unknown>): void;
  passThroughOnException?(): void;
}

export function depsFromEnv(env: WorkerEnv): EdgeDeps {
  if (!env.KV) console.warn('edge: no KV binding named KV; probe history and login limits last only as long as this isolate');
  return {
    nodeUrl: env.NODE_URL,
    edgeSecret: env.EDGE_SHARED_SECRET,
    adminPasswordHash: env.ADMIN_PASSWORD_HASH,
    sessionSecret: env.SESSION_SECRET,
    kv: env.KV ?? new MemoryKv(),
    alertWebhook: env.ALERT_WEBHOOK || undefined,
    access: env.ACCESS_AUD && env.ACCESS_TEAM ? { aud: env.ACCESS_AUD, team: env.ACCESS_TEAM } : undefined,
    mailHost: env.MAIL_HOST || undefined,
    mailDomains: env.MAIL_DOMAINS ? env.MAIL_DOMAINS.split(',').map((d) => d.trim()).filter(Boolean) : undefined,
    pop3: env.POP3 === undefined ? true : !/^(false|0|no|off)$/i.test(env.POP3),
    dnsChecker: env.DNS_CHECK === 'off' ? null : env.DNS_CHECK?.startsWith('http') ? createDohChecker({ endpoint: env.DNS_CHECK }) : undefined,
    mtaSts: { mode: (env.MTA_STS_MODE as MtaStsMode) || undefined, maxAgeSeconds: env.MTA_STS_MAX_AGE ? Number(env.MTA_STS_MAX_AGE) : undefined },
    version: env.VERSION,
    standbyUrl: env.STANDBY_URL || undefined,
    failoverAfterMs: env.FAILOVER_AFTER_SECONDS ? Number(env.FAILOVER_AFTER_SECONDS) * 1000 : undefined,
    coloTraceUrl: env.COLO_TRACE === 'off' ? undefined : env.COLO_TRACE || 'https://www.cloudflare.com/cdn-cgi/trace',
  };
}

let cached: { env: WorkerEnv; edge: EdgeApp } | null = null;

function edgeFor(env: WorkerEnv): EdgeApp {
  if (!cached || cached.env !== env) cached = { env, edge: createEdgeApp(depsFromEnv(env)) };
  return cached.edge;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Response | Promise<Response> {
    return edgeFor(env).app.fetch(request, env, ctx as never);
  },
  scheduled(controller: { scheduledTime?: number } | undefined, env: WorkerEnv, ctx: ExecutionContextLike): void {
    ctx.waitUntil(
      edgeFor(env)
        .probe({ scheduledTime: controller?.scheduledTime })
        .then((o) => {
          if (o.alertError) console.error(`edge probe: ${o.alertError}`);
          if (o.failover?.error && o.failover.state.promotion?.refused) console.warn(`edge failover: the standby refused the promotion: ${o.failover.error}`);
          else if (o.failover?.error) console.error(`edge failover: promoting the standby failed: ${o.failover.error}`);
          if (o.failover?.promoted) console.warn('edge failover: the standby was promoted');
        }),
    );
  },
};
