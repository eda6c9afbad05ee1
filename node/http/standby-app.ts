/**
 * @module node/http/standby-app
 * What a standby answers over HTTPS while it stands by (it serves no mail,
 * no DAV, no admin operations):
 *
 *   GET  /health           role, follow lag and the newest epoch, unsigned
 *                          like the primary's /health (the edge probes it);
 *   POST /api/v1/promote   signed by the edge like every admin API call
 *                          (node/http/signature): take over now. 200 with
 *                          {promoted: true} once this node is the primary
 *                          and serving, 409 when another node took the
 *                          epoch first, or when this node's own witness
 *                          (node/failover/witness) does not agree that the
 *                          primary is down: the body may carry the edge's
 *                          evidence ({evidence: {failingSince, failedProbes,
 *                          colo}}), logged and quoted in the answer.
 */
import { Hono } from 'hono';
import { readBoundedBody } from '../util/bounded-body.js';
import { NonceCache, verifyRequest } from './signature.js';
import type { StandbyStatus } from '../replication/failover.js';
import type { Logger } from '../util/log.js';
import { parseEvidence } from '../failover/witness-rule.js';
import type { Witness } from '../failover/witness.js';

export interface StandbyAppDeps {
  status(): Promise<StandbyStatus>;
  promote(): Promise<{ promoted: boolean }>;
  /** This standby's own look at the primary; absent: the edge's word is taken (as before the witness). */
  witness?: Pick<Witness, 'view' | 'judge'>;
  /** The admin API's shared secret; empty refuses promotion over HTTP. */
  secret: string;
  log: Logger;
  /** Lag past this makes /health say not ok (default 5 s, the p99 target). */
  maxLagMs?: number;
}

export function standbyApp(deps: StandbyAppDeps): Hono {
  const app = new Hono();
  const nonces = new NonceCache();
  const log = deps.log.child({ proto: 'standby-http' });
  app.use('*', async (c, next) => {
    c.header('Cache-Control', 'no-store');
    await next();
  });
  app.get('/health', async (c) => {
    const s = await deps.status();
    const lagOk = s.follow.lastError === null && s.follow.lagMs <= (deps.maxLagMs ?? 5000);
    return c.json({
      ok: lagOk,
      role: s.role,
      epoch: s.fence.kind === 'standby' ? s.fence.seen : s.fence.kind === 'primary' ? s.fence.epoch : null,
      history: s.history.map((h) => ({ epoch: h.epoch, at: h.at, how: h.how })),
      witness: deps.witness ? witnessReport(deps.witness) : null,
      follow: { lagSeconds: s.follow.lagMs / 1000, behindObjects: s.follow.behindObjects, databases: s.follow.databases, lastError: s.follow.lastError, caughtUpAt: s.follow.caughtUpAt ? new Date(s.follow.caughtUpAt).toISOString() : null },
    }, lagOk ? 200 : 503);
  });
  app.post('/api/v1/promote', async (c) => {
    if (!deps.secret) return c.json({ error: 'promotion over HTTP is off because admin.secret is empty; use `haven promote` on the standby' }, 503);
    const body = await readBoundedBody(c.req.raw, 4096);
    if (body === null) return c.json({ error: 'the body is too large' }, 413);
    const raw = (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url;
    const url = new URL(c.req.url);
    const v = await verifyRequest(deps.secret, { method: 'POST', path: raw?.startsWith('/') ? raw : url.pathname + url.search, body: new Uint8Array(body), headers: c.req.raw.headers }, nonces);
    if (!v.ok) {
      log.warn({ why: v.reason }, 'standby: refused an unsigned or badly signed promotion');
      return c.json({ error: v.reason }, 401);
    }
    let json: unknown;
    try {
      json = body.length ? JSON.parse(new TextDecoder().decode(body)) : undefined;
    } catch {
      return c.json({ error: 'the body is not JSON' }, 400);
    }
    const ev = parseEvidence(json);
    if (!ev.ok) return c.json({ error: ev.reason }, 400);
    const verdict = deps.witness?.judge(ev.evidence) ?? { agree: true, why: 'no witness on this standby' };
    if (!verdict.agree) {
      log.warn({ evidence: ev.evidence, why: verdict.why }, 'standby: refused the edge\'s automatic promotion');
      return c.json({ promoted: false, refused: true, error: `automatic promotion refused: ${verdict.why}` }, 409);
    }
    log.warn({ evidence: ev.evidence, why: verdict.why }, 'standby: promotion requested over the admin API (the edge saw the primary down)');
    const r = await deps.promote();
    return r.promoted ? c.json({ promoted: true }) : c.json({ promoted: false, error: 'another node took the primary role first; this node stays a standby' }, 409);
  });
  app.notFound((c) => c.json({ error: 'this node is a standby: it serves nothing but /health and POST /api/v1/promote until promoted' }, 503));
  return app;
}

/** The witness as /health shows it (the edge's dashboard reads it). */
function witnessReport(w: Pick<Witness, 'view'>) {
  const v = w.view();
  const last = v.state.last;
  return {
    enabled: v.enabled,
    agreementSeconds: v.agreementMs / 1000,
    primaryUp: last ? last.up : null,
    checkedAt: last ? new Date(last.at).toISOString() : null,
    failingSince: v.state.failingSince ? new Date(v.state.failingSince).toISOString() : null,
    checks: last?.checks ?? [],
  };
}
