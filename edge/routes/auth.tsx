/**
 * @module edge/routes/auth
 * Logging in and out, and the middleware that guards everything else:
 * session cookie (or a Cloudflare Access JWT), CSRF token on every POST,
 * same-origin check, per-IP login rate limit.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { ACCESS_HEADER } from '../auth/access.js';
import { PasswordHashFormatError, verifyPassword } from '../auth/password.js';
import { clearLoginFailures, loginBlockedFor, recordLoginFailure } from '../auth/rate-limit.js';
import { SESSION_COOKIE, SESSION_TTL_SECONDS, csrfToken, csrfValid, newSession, openSession, revokeSession, sealSession, type Session } from '../auth/session.js';
import { hmac, hmacVerify, randomId } from '../crypto.js';
import type { EdgeEnv } from '../context.js';
import { clearAppCookie, field, setAppCookie, takeFlash, type Ctx, type Edge } from '../edge.js';
import { Csrf } from '../views/layout.js';
import { errorPage, render } from './render.js';

const LOGIN_COOKIE = 'haven_login';

/** Only paths on this site: `//evil.example` and `/\evil` are other sites to a browser. */
function safeNext(next: string | undefined): string {
  return next && /^\/(?![/\\])/.test(next) ? next : '/';
}

async function startSession(c: Ctx, edge: Edge, via: Session['via']): Promise<Session> {
  const keys = await edge.macKeys();
  const s = newSession(edge.nowSeconds(), via);
  setAppCookie(c, SESSION_COOKIE, await sealSession(keys.session, s), SESSION_TTL_SECONDS);
  c.set('session', s);
  c.set('csrf', await csrfToken(keys.csrf, s.sid));
  return s;
}

/** Loads the session (if any), the CSRF token and the flash message for every page. */
export function loadSession(edge: Edge): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    c.set('session', null);
    c.set('csrf', '');
    c.set('flash', null);
    const keys = await edge.macKeys();
    const s = await openSession(keys.session, edge.deps.kv, getCookie(c, SESSION_COOKIE), edge.nowSeconds());
    if (s) {
      c.set('session', s);
      c.set('csrf', await csrfToken(keys.csrf, s.sid));
    } else if (edge.access) {
      const id = await edge.access.verify(c.req.header(ACCESS_HEADER), edge.now());
      if (id) await startSession(c, edge, 'access');
    }
    if (c.req.method === 'GET') c.set('flash', await takeFlash(c, edge));
    await next();
  };
}

/** A POST from another origin is refused before anything else looks at it. */
function sameOrigin(c: Ctx): boolean {
  const origin = c.req.header('origin');
  return !origin || origin === new URL(c.req.url).origin;
}

export function requireAdmin(edge: Edge): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const s = c.get('session');
    if (!s) {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') {
        const u = new URL(c.req.url);
        return c.redirect(`/login?next=${encodeURIComponent(u.pathname + u.search)}`, 303);
      }
      return errorPage(c, edge, 401, 'Logged out', 'Your session has ended, so nothing was changed. Log in again and repeat the action.', <p><a href="/login">Log in</a></p>);
    }
    if (c.req.method === 'POST') {
      if (!sameOrigin(c)) return errorPage(c, edge, 403, 'Refused', 'This form was sent from another site, so nothing was changed. Use the admin UI directly.');
      const form = await c.req.parseBody();
      if (!(await csrfValid((await edge.macKeys()).csrf, s.sid, form._csrf))) {
        return errorPage(c, edge, 403, 'Form expired', 'The form was missing its security token or it did not match your session, so nothing was changed. Reload the page and try again.');
      }
    }
    await next();
  };
}

async function loginForm(c: Ctx, edge: Edge, opts: { status?: 200 | 401 | 403 | 429 | 503; message?: string } = {}) {
  const problem = edge.configProblem();
  const passwordLogin = !!edge.deps.adminPasswordHash;
  // Reuse the token a browser already holds: a second login tab, or a stray request that was
  // sent to the login page (a favicon), must not invalidate the form already on screen.
  const held = getCookie(c, LOGIN_COOKIE);
  const token = held && /^[A-Za-z0-9_-]{22}$/.test(held) ? held : randomId(16);
  setAppCookie(c, LOGIN_COOKIE, token, 1800);
  const csrf = await hmac((await edge.macKeys()).csrf, `login\n${token}`);
  const next = safeNext(c.req.query('next') ?? field(c.get('form') ?? {}, 'next'));
  return render(
    c,
    edge,
    'Log in',
    <div class="login">
      <h1>Haven admin</h1>
      {opts.message ? <div class="flash error" role="alert">{opts.message}</div> : null}
      {problem ? <div class="warning">{problem}</div> : null}
      {passwordLogin ? (
        <form class="stack card" method="post" action="/login">
          <Csrf token={csrf} />
          <input type="hidden" name="next" value={next} />
          <label>
            Admin password
            <input type="password" name="password" autocomplete="current-password" required autofocus />
          </label>
          <button type="submit">Log in</button>
        </form>
      ) : null}
      {edge.access ? <p class="muted">This admin UI also accepts Cloudflare Access: open it through your team's Access login and you are let in without a password.</p> : null}
    </div>,
    opts.status ?? 200,
  );
}

export function registerAuth(app: Hono<EdgeEnv>, edge: Edge): void {
  app.get('/login', async (c) => (c.get('session') ? c.redirect(safeNext(c.req.query('next')), 303) : loginForm(c, edge)));

  app.post('/login', async (c) => {
    const form = await c.req.parseBody();
    c.set('form', form);
    if (!sameOrigin(c)) return loginForm(c, edge, { status: 403, message: 'This login was sent from another site and was refused. Log in here.' });
    const cookie = getCookie(c, LOGIN_COOKIE);
    if (!cookie || !(await hmacVerify((await edge.macKeys()).csrf, `login\n${cookie}`, field(form, '_csrf')))) {
      return loginForm(c, edge, { status: 403, message: 'The login form expired or was not sent from this page. Type the password again.' });
    }
    clearAppCookie(c, LOGIN_COOKIE);
    const ip = edge.clientIp(c);
    const now = edge.nowSeconds();
    const wait = await loginBlockedFor(edge.deps.kv, ip, now);
    if (wait > 0) {
      c.header('retry-after', String(wait));
      return loginForm(c, edge, { status: 429, message: `Too many wrong passwords from your address. Wait ${Math.ceil(wait / 60)} minutes and try again.` });
    }
    const hash = edge.deps.adminPasswordHash;
    if (!hash) return loginForm(c, edge, { status: 503, message: 'Password login is not configured: set ADMIN_PASSWORD_HASH (make one with `npx tsx edge/hash-password.ts`).' });
    let ok: boolean;
    try {
      ok = await verifyPassword(field(form, 'password'), hash);
    } catch (err) {
      if (err instanceof PasswordHashFormatError) return loginForm(c, edge, { status: 503, message: err.message });
      throw err;
    }
    if (!ok) {
      await recordLoginFailure(edge.deps.kv, ip, now);
      return loginForm(c, edge, { status: 401, message: 'That password is not right. Check Caps Lock and try again; after 5 wrong tries logins from your address pause for 15 minutes.' });
    }
    await clearLoginFailures(edge.deps.kv, ip);
    await startSession(c, edge, 'password');
    return c.redirect(safeNext(field(form, 'next')), 303);
  });

  app.post('/logout', async (c) => {
    const s = c.get('session');
    if (s) {
      const form = await c.req.parseBody();
      if (!sameOrigin(c) || !(await csrfValid((await edge.macKeys()).csrf, s.sid, form._csrf))) {
        return errorPage(c, edge, 403, 'Form expired', 'The logout form was missing its security token, so you are still logged in. Reload the page and press Log out again.');
      }
      await revokeSession(edge.deps.kv, s, edge.nowSeconds());
    }
    clearAppCookie(c, SESSION_COOKIE);
    c.set('session', null);
    // Access would log the browser straight back in with its own cookie: end that session too.
    return c.redirect(s?.via === 'access' ? '/cdn-cgi/access/logout' : '/login', 303);
  });
}
