/**
 * @module node/http/owner-export
 * `GET /export.zip`: the owner downloads everything of their account (issue
 * 18), signing in with their own password or an app password (HTTP Basic,
 * RFC 7617, over the node's HTTPS; the same sign-in limiter as DAV). The ZIP
 * is the layout `haven export` writes (node/transfer/export), streamed as it
 * is made: nothing of it touches the server's disk, and memory holds one
 * message at a time. `?format=mbox` gives mbox files instead of Maildir++.
 */
import type { Context, Hono } from 'hono';
import { AuthFailedError, type Store } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import type { Logger } from '../util/log.js';

export interface OwnerExportDeps {
  store: Store;
  authLimiter: AuthLimiter;
  log: Logger;
}

const REALM = 'Basic realm="Haven: your mail, calendars and contacts", charset="UTF-8"';

function unauthorized(c: Context, why: string, extra: Record<string, string> = {}): Response {
  return c.text(`${why}\n`, 401, { 'WWW-Authenticate': REALM, 'Cache-Control': 'no-store', ...extra });
}

function remoteIp(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'local';
}

export function registerOwnerExport(app: Hono, deps: OwnerExportDeps): void {
  const log = deps.log.child({ proto: 'export' });
  app.get('/export.zip', async (c) => {
    const auth = c.req.header('authorization') ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth);
    const raw = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const i = raw.indexOf(':');
    if (i < 0) return unauthorized(c, 'Sign in with your address and your password (or an app password) to download your data.');
    const user = raw.slice(0, i);
    const ip = remoteIp(c);
    const gate = deps.authLimiter.check(ip, user);
    if (gate.locked) return c.text(`too many failed sign-ins; wait ${Math.ceil(gate.retryAfterMs / 1000)} s and retry\n`, 429, { 'Retry-After': String(Math.ceil(gate.retryAfterMs / 1000)) });
    if (gate.delayMs > 0) await new Promise((r) => setTimeout(r, gate.delayMs));
    let lease;
    try {
      lease = await deps.store.authenticate(user, raw.slice(i + 1));
      deps.authLimiter.succeed(ip, user);
    } catch (err) {
      if (!(err instanceof AuthFailedError)) throw err;
      deps.authLimiter.fail(ip, user);
      return unauthorized(c, 'That address and password do not match.');
    }
    const format = c.req.query('format') === 'mbox' ? 'mbox' : 'maildir';
    const { runExport } = await import('../transfer/export.js');
    const { zipTarget } = await import('../transfer/zip-target.js');
    const { Progress } = await import('../transfer/progress.js');
    const abort = new AbortController();
    const stream = new TransformStream<Uint8Array, Uint8Array>(undefined, undefined, { highWaterMark: 8 });
    const writer = stream.writable.getWriter();
    const held = lease;
    void (async () => {
      try {
        const t = zipTarget(async (chunk) => {
          await writer.ready;
          await writer.write(chunk);
        });
        await runExport(held.mailbox, t, { format, signal: abort.signal, progress: new Progress() });
        await t.finish();
        await writer.close();
      } catch (err) {
        // A download the browser gave up on is not an error of the node's.
        if (!abort.signal.aborted) log.warn({ err }, 'export: the download stopped before the end');
        await writer.abort(err).catch(() => undefined);
      } finally {
        held.release();
      }
    })();
    const body = stream.readable;
    const day = new Date().toISOString().slice(0, 10);
    c.req.raw.signal?.addEventListener('abort', () => abort.abort());
    return new Response(body, {
      status: 200,
      headers: {
        'Content-Type': 'application/zip',
        'Content-Disposition': `attachment; filename="haven-export-${day}.zip"`,
        'Cache-Control': 'no-store',
      },
    });
  });
}
