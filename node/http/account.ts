/**
 * @module node/http/account
 * The owner's own page, `/account` on the node's HTTPS server: signed in
 * with the mailbox's address and password (HTTP Basic, the same login and
 * failed-login policy as DAV), each user switches vacation replies on and
 * off with their text and dates, sees and edits their Sieve script with its
 * check result and the last error it had at delivery, and manages their app
 * passwords; creating and revoking those takes the main password, so an app
 * password (kept in a phone, a mail client's settings) cannot mint more or
 * lock the owner's other devices out. Plain HTML forms, no script. The vacation form writes a script
 * of its own ("haven-vacation") that delivery runs after the owner's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { compile, SieveSyntaxError, VACATION_SCRIPT, vacationScript, vacationSettings, type VacationSettings } from '../sieve/index.js';
import { AuthFailedError, NotFoundError, type Lease, type Store } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import type { Logger } from '../util/log.js';

export interface AccountDeps {
  store: Store;
  authLimiter: AuthLimiter;
  log: Logger;
}

/** Said wherever app passwords cannot be managed because the sign-in used one. */
const MAIN_PASSWORD_NEEDED =
  'App passwords are created and revoked only when you sign in with your main password, not an app password. Close this browser window (or open a private one), come back to this page and sign in with your main password.';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const OWN_SCRIPT = 'main';

function remoteIp(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'local';
}

const challenge = (msg: string) =>
  new Response(msg + '\n', { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="Haven account", charset="UTF-8"', 'Content-Type': 'text/plain; charset=utf-8' } });

function page(address: string, body: string, notice = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${esc(address)} · Haven</title>
<style>body{font:16px/1.4 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}textarea{width:100%;font:14px monospace}
section{border-top:1px solid #ccc;margin-top:1.5rem}.ok{color:#060}.bad{color:#a00}label{display:block;margin:.4rem 0}table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left}</style></head>
<body><h1>${esc(address)}</h1>${notice ? `<p role="status" class="${notice.startsWith('!') ? 'bad' : 'ok'}">${esc(notice.replace(/^!/, ''))}</p>` : ''}${body}</body></html>`;
}

export function accountApp(deps: AccountDeps): Hono {
  const app = new Hono();
  const sieve = deps.store.directory.sieve;

  async function login(c: Context): Promise<Lease | Response> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!m) return challenge('sign in with your address and password');
    const raw = Buffer.from(m[1], 'base64').toString('utf8');
    const i = raw.indexOf(':');
    if (i < 0) return challenge('malformed credentials; send address:password');
    const [user, pass] = [raw.slice(0, i), raw.slice(i + 1)];
    const ip = remoteIp(c);
    const gate = deps.authLimiter.check(ip, user);
    if (gate.locked) return new Response(`too many failed sign-ins; wait ${Math.ceil(gate.retryAfterMs / 1000)} s and retry\n`, { status: 429 });
    if (gate.delayMs > 0) await sleep(gate.delayMs);
    try {
      const lease = await deps.store.authenticate(user, pass);
      deps.authLimiter.succeed(ip, user);
      return lease;
    } catch (err) {
      if (!(err instanceof AuthFailedError)) throw err;
      deps.authLimiter.fail(ip, user);
      return challenge('wrong address or password; sign in with your full email address and its password');
    }
  }

  /** A form post must come from this page: Basic credentials ride along on any cross-site request. */
  function sameOrigin(c: Context): boolean {
    const site = c.req.header('sec-fetch-site');
    if (site) return site === 'same-origin';
    const origin = c.req.header('origin');
    return !!origin && new URL(origin).host === new URL(c.req.url).host;
  }

  function render(lease: Lease, notice = '', draft?: { script?: string; error?: string; newPassword?: string }): string {
    const id = lease.account.id;
    const v = vacationSettings(sieve.get(id, VACATION_SCRIPT));
    const own = sieve.active(id);
    const lastError = sieve.lastError(id);
    const apps = deps.store.listAppPasswords(lease.account.address);
    const script = draft?.script ?? own?.source ?? '';
    const main = lease.credential === 'password';
    return page(
      lease.account.address,
      `<section><h2>Vacation reply</h2><form method="post" action="/account/vacation">
<label><input type="checkbox" name="enabled" value="1"${v.enabled ? ' checked' : ''}> Send automatic replies</label>
<label>From <input type="date" name="from" value="${esc(v.from)}"> until <input type="date" name="until" value="${esc(v.until)}"> (empty: no limit)</label>
<label>Subject <input name="subject" size="40" value="${esc(v.subject)}"></label>
<label>Message<textarea name="text" rows="5">${esc(v.text)}</textarea></label>
<p>Each sender gets one reply a week; lists, bulk mail and automatic mail get none.</p>
<button>Save</button></form></section>
<section><h2>Filter (Sieve)</h2><form method="post" action="/account/sieve">
<p>${own ? `Active script: <b>${esc(own.name)}</b>.` : 'No active script: mail goes to INBOX (or Junk).'} Mail clients can manage scripts too (ManageSieve, port 4190).</p>
${draft?.error ? `<p class="bad">Not saved: ${esc(draft.error)}. Correct the script at that line and check it again; the filter in force is unchanged.</p>` : ''}
${lastError ? `<p class="bad">Last problem at delivery (${new Date(lastError.at).toISOString()}): ${esc(lastError.message)}. The message was kept in INBOX. Correct the script below and save it; until then such messages keep going to INBOX.</p>` : ''}
<textarea name="script" rows="14" spellcheck="false">${esc(script)}</textarea>
<button name="do" value="check">Check</button> <button name="do" value="save">Save and activate</button> <button name="do" value="off">Turn filtering off</button></form></section>
<section><h2>App passwords</h2>
${draft?.newPassword ? `<p class="ok">New app password (shown once): <code>${esc(draft.newPassword)}</code></p>` : ''}
<table><tr><th>Label</th><th>Created</th><th>Last used</th><th></th></tr>
${apps.map((a) => `<tr><td>${esc(a.label ?? '')}</td><td>${new Date(a.createdAt).toISOString().slice(0, 10)}</td><td>${a.lastUsedAt ? new Date(a.lastUsedAt).toISOString().slice(0, 10) : 'never'}</td><td>${main ? `<form method="post" action="/account/app-passwords/${esc(a.id)}/revoke"><button>Revoke</button></form>` : ''}</td></tr>`).join('\n')}
</table>${main ? '<form method="post" action="/account/app-passwords"><label>Label <input name="label" required placeholder="phone"></label><button>Create</button></form>' : `<p>${esc(MAIN_PASSWORD_NEEDED)}</p>`}</section>`,
      notice,
    );
  }

  const withLease = (fn: (c: Context, lease: Lease) => Promise<Response> | Response) => async (c: Context) => {
    const lease = await login(c);
    if (lease instanceof Response) return lease;
    try {
      if (c.req.method === 'POST' && !sameOrigin(c)) return c.text('this form must be sent from the account page itself: open /account and use the form there\n', 403);
      return await fn(c, lease);
    } finally {
      lease.release();
    }
  };
  /** Managing app passwords takes the main password (see the module header). */
  const withMainPassword = (fn: (c: Context, lease: Lease) => Promise<Response> | Response) =>
    withLease((c, lease) => (lease.credential === 'password' ? fn(c, lease) : html(c, render(lease, `!${MAIN_PASSWORD_NEEDED}`), 403)));
  const html = (c: Context, body: string, status: 200 | 400 | 403 = 200) => c.html(body, status, { 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'" });

  app.get('/account', withLease((c, lease) => html(c, render(lease))));

  app.post(
    '/account/vacation',
    withLease(async (c, lease) => {
      const f = await c.req.parseBody();
      const s: VacationSettings = {
        enabled: f.enabled === '1',
        from: String(f.from ?? ''),
        until: String(f.until ?? ''),
        subject: String(f.subject ?? '').slice(0, 200),
        text: String(f.text ?? '').slice(0, 8000),
      };
      if (s.enabled && !s.text.trim()) return html(c, render(lease, '!Nothing was saved: write the message your correspondents will get, then save again.'), 400);
      if ((s.from && !/^\d{4}-\d{2}-\d{2}$/.test(s.from)) || (s.until && !/^\d{4}-\d{2}-\d{2}$/.test(s.until))) return html(c, render(lease, '!Nothing was saved: write dates as YYYY-MM-DD (such as 2026-12-31), or leave them empty.'), 400);
      sieve.put(lease.account.id, VACATION_SCRIPT, vacationScript(s));
      return html(c, render(lease, s.enabled ? 'Vacation replies are on.' : 'Vacation replies are off.'));
    }),
  );

  app.post(
    '/account/sieve',
    withLease(async (c, lease) => {
      const f = await c.req.parseBody();
      const script = String(f.script ?? '');
      if (f.do === 'off') {
        sieve.setActive(lease.account.id, null);
        return html(c, render(lease, 'Filtering is off.'));
      }
      try {
        compile(script);
      } catch (err) {
        if (!(err instanceof SieveSyntaxError)) throw err;
        return html(c, render(lease, '', { script, error: err.message }), 400);
      }
      if (f.do !== 'save') return html(c, render(lease, 'The script is valid.', { script }));
      const name = sieve.active(lease.account.id)?.name ?? OWN_SCRIPT;
      sieve.put(lease.account.id, name, script);
      sieve.setActive(lease.account.id, name);
      return html(c, render(lease, `Saved and active as "${name}".`));
    }),
  );

  app.post(
    '/account/app-passwords',
    withMainPassword(async (c, lease) => {
      const f = await c.req.parseBody();
      const label = String(f.label ?? '').trim().slice(0, 64) || 'app';
      const { password } = await deps.store.addAppPassword(lease.account.address, label);
      return html(c, render(lease, `App password "${label}" created.`, { newPassword: password }));
    }),
  );

  app.post(
    '/account/app-passwords/:id/revoke',
    withMainPassword((c, lease) => {
      try {
        deps.store.revokeAppPassword(lease.account.address, c.req.param('id') ?? '');
      } catch (err) {
        if (err instanceof NotFoundError) return html(c, render(lease, '!No such app password: it may have been revoked already. The list below is current.'), 400);
        throw err;
      }
      return html(c, render(lease, 'App password revoked.'));
    }),
  );

  return app;
}
