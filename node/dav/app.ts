/**
 * @module node/dav/app
 * The Hono sub-app: RFC 6764 well-known redirects (and PROPFIND on the
 * server root), Basic authentication
 * through the shared AuthLimiter, a dispatch table of one handler per HTTP
 * method, and the one catch that turns errors into replies. The lease taken
 * at login is released when the request ends; the store's unlock cache keeps
 * repeat requests from paying the key derivation again. While the mailbox is
 * open, iTIP mail that reached INBOX is applied to the calendars first.
 */
import { Hono, type Context } from 'hono';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuthFailedError, normalizeAddress, type Lease } from '../store/index.js';
import { connectionId } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { DEFAULT_LIMITS, type Ctx, type DavDeps } from './context.js';
import { DavError, notFound, toDavError } from './errors.js';
import { del } from './methods/delete.js';
import { get } from './methods/get.js';
import { mkcol } from './methods/mkcol.js';
import { move } from './methods/move.js';
import { post } from './methods/post.js';
import { propfind } from './methods/propfind.js';
import { proppatch } from './methods/proppatch.js';
import { put } from './methods/put.js';
import { report } from './methods/report.js';
import { deepPathOwner, href, parsePath, ROOT, type Target } from './paths.js';
import { errorResponse } from './respond.js';
import { applyInbox } from './scheduling/index.js';

type Handler = (ctx: Ctx) => Promise<Response>;

/** Methods that create a resource: below a missing parent they are answered 409 (RFC 4918 §9.3.1, §9.7.1). */
const CREATES = new Set(['PUT', 'MKCOL', 'MKCALENDAR']);

/** Names a stored object in an error reply (the href inside no-uid-conflict). */
function objectHref(lease: Lease): (collectionId: number, name: string) => string | null {
  return (collectionId, name) => {
    const col = lease.mailbox.dav.collections().find((c) => c.id === collectionId);
    return col ? href.object(col.kind, normalizeAddress(lease.account.address), col.name, name) : null;
  };
}

const HANDLERS: Record<string, Handler> = {
  PROPFIND: propfind,
  PROPPATCH: proppatch,
  MKCOL: mkcol,
  MKCALENDAR: mkcol,
  GET: get,
  HEAD: get,
  PUT: put,
  DELETE: del,
  MOVE: move,
  REPORT: report,
  POST: post,
};

const ALLOW = ['OPTIONS', ...Object.keys(HANDLERS)].join(', ');
/** RFC 4918 §10.1 classes, RFC 4791 §5.1, RFC 6638 §2, RFC 6352 §6.1, RFC 5689 §3, RFC 6578. */
export const DAV_CLASSES = '1, 3, extended-mkcol, calendar-access, calendar-auto-schedule, addressbook, sync-collection';

const unauthorized = (why: string): DavError =>
  new DavError(401, null, why, { 'WWW-Authenticate': 'Basic realm="Haven", charset="UTF-8"' });

function credentials(req: Request): { user: string; pass: string } | null {
  const h = req.headers.get('authorization');
  if (!h) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h);
  if (!m) throw unauthorized('only Basic authentication is supported; send your address and password (or an app password)');
  const raw = Buffer.from(m[1], 'base64').toString('utf8');
  const i = raw.indexOf(':');
  if (i < 0) throw unauthorized('malformed Basic credentials; send address:password');
  return { user: raw.slice(0, i), pass: raw.slice(i + 1) };
}

function remoteIp(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'local';
}

export function davApp(deps: DavDeps): Hono {
  const app = new Hono();
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const log = deps.log.child({ proto: 'dav' });

  // Requests that arrive together with the same credentials (a client opening
  // several connections at once, a sync after a restart) share one key
  // derivation: the first runs it, the rest wait for it and then log in warm
  // (about 1 ms) rather than each running its own ~80 ms KDF on the thread
  // pool (twenty at once held every first request half a second). Each still
  // authenticates for itself, so a failure is each one's own. Keyed by the
  // Authorization header the request holds anyway; kept only while in flight.
  const inFlight = new Map<string, Promise<Lease>>();
  const settled = () => undefined;
  function authenticate(header: string, user: string, pass: string): Promise<Lease> {
    const first = inFlight.get(header);
    if (first) return first.then(settled, settled).then(() => deps.store.authenticate(user, pass));
    const p = deps.store.authenticate(user, pass);
    inFlight.set(header, p);
    const done = () => {
      if (inFlight.get(header) === p) inFlight.delete(header);
    };
    p.then(done, done);
    return p;
  }

  async function login(c: Context, req: Request): Promise<Lease> {
    const cred = credentials(req);
    if (!cred) throw unauthorized('sign in with your address and password (or an app password)');
    const ip = remoteIp(c);
    const gate = deps.authLimiter.check(ip, cred.user);
    if (gate.locked)
      throw new DavError(429, null, `too many failed sign-ins; wait ${Math.ceil(gate.retryAfterMs / 1000)} s and retry`, { 'Retry-After': String(Math.ceil(gate.retryAfterMs / 1000)) });
    if (gate.delayMs > 0) await sleep(gate.delayMs);
    try {
      const lease = await authenticate(req.headers.get('authorization') ?? '', cred.user, cred.pass);
      deps.authLimiter.succeed(ip, cred.user);
      return lease;
    } catch (err) {
      if (err instanceof AuthFailedError) deps.authLimiter.fail(ip, cred.user);
      throw err;
    }
  }

  // RFC 6764 §5 names 301, 303 or 307 as examples; 308 (RFC 9110 §15.4.9) is permanent and, unlike 301,
  // keeps the method and body, so a client that follows it sends its PROPFIND on unchanged.
  const wellKnown = (c: Context) => c.body(null, 308, { Location: ROOT, 'Cache-Control': 'no-cache' });
  app.all('/.well-known/caldav', wellKnown);
  app.all('/.well-known/carddav', wellKnown);

  const handle = async (c: Context): Promise<Response> => {
    const started = performance.now();
    const req = c.req.raw;
    const url = new URL(req.url);
    const method = req.method.toUpperCase();
    const cid = connectionId();
    let lease: Lease | null = null;
    // Set while a streamed reply still reads the mailbox: that reply releases the lease when it ends.
    let held = false;
    let target: Target | null = null;
    let res: Response;
    try {
      target = parsePath(url.pathname);
      if (!target) {
        const owner = CREATES.has(method) ? deepPathOwner(url.pathname) : null;
        if (owner !== null && normalizeAddress((lease = await login(c, req)).account.address) === owner)
          throw new DavError(409, null, 'calendars and address books hold objects, not further collections: the parent collection does not exist');
        throw notFound('no such path; DAV lives under /dav/');
      }
      if (method === 'OPTIONS') {
        res = new Response(null, { status: 200, headers: { DAV: DAV_CLASSES, Allow: ALLOW, 'Content-Length': '0' } });
      } else {
        const h = HANDLERS[method];
        if (!h) throw new DavError(405, null, `method ${method} is not supported here; allowed: ${ALLOW}`, { Allow: ALLOW });
        lease = await login(c, req);
        const address = normalizeAddress(lease.account.address);
        // The mailbox is open now: apply invitations and replies that arrived by mail since the last request.
        applyInbox(lease, address, log);
        const leased = lease;
        const holdLease = () => {
          held = true;
          return () => leased.release();
        };
        const ctx: Ctx = { req, url, target, lease, address, limits, log, origin: `dav-${cid}`, store: deps.store, imip: deps.imip, holdLease };
        res = await h(ctx);
      }
    } catch (err) {
      const de = toDavError(err, { kind: target && 'kind' in target ? target.kind : undefined, objectHref: lease ? objectHref(lease) : undefined });
      if (de) res = errorResponse(de);
      else {
        reportUnexpected(err);
        log.error({ cid, err, method }, 'unexpected error in DAV request');
        res = new Response('internal error; the server logged it — retry, and tell the operator if it persists\n', { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
      }
      // Drain an unread body so the connection can be reused.
      if (!req.bodyUsed && req.body) await req.body.cancel().catch(() => undefined);
    } finally {
      if (!held) lease?.release();
    }
    // Addresses are personal data: the log line names the kind of target, not its path.
    log.info({ cid, method, target: target?.t ?? null, status: res.status, ms: Math.round((performance.now() - started) * 10) / 10 }, 'dav');
    return res;
  };
  app.all('/dav', handle);
  app.all('/dav/*', handle);
  // RFC 6764 §6: a client with no context path asks the server root for current-user-principal.
  app.on(['PROPFIND', 'OPTIONS'], '/', handle);
  return app;
}
