/**
 * The owner's page (issue 17, item 4) through the node's HTTPS app with
 * app.request: Basic sign-in with the mailbox's own password, vacation on
 * and off with text and dates, the Sieve script with its check result and
 * last delivery error, app passwords created and revoked (only when signed
 * in with the main password, never with an app password); forms only from
 * the page itself.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runScript, sieveMessage, VACATION_SCRIPT } from '../../node/sieve/index.js';
import { addAccount } from '../helpers/store.js';
import { makeTestApp, type TestApp } from './harness.js';

let h: TestApp;
let accountId: string;
const PW = 'correct horse battery';
const auth = (user = 'ann@example.org', pass = PW) => ({ authorization: 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64') });
const URL_BASE = 'https://mail.example.org';

beforeEach(async () => {
  h = makeTestApp();
  accountId = (await addAccount(h.t.store, 'ann@example.org', PW)).account.id;
});
afterEach(() => h.cleanup());

function post(path: string, form: Record<string, string>, headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' }, user?: [string, string]) {
  return h.app.request(`${URL_BASE}${path}`, {
    method: 'POST',
    headers: { ...auth(...(user ?? [])), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

describe('/account', () => {
  it('asks for Basic credentials and refuses a wrong password', async () => {
    const r = await h.app.request(`${URL_BASE}/account`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="Haven account"/);
    expect((await h.app.request(`${URL_BASE}/account`, { headers: auth('ann@example.org', 'wrong password') })).status).toBe(401);
    const ok = await h.app.request(`${URL_BASE}/account`, { headers: auth() });
    expect(ok.status).toBe(200);
    const html = await ok.text();
    expect(html).toContain('<h1>ann@example.org</h1>');
    expect(html).toContain('Vacation reply');
    expect(html).toContain('Filter (Sieve)');
    expect(html).toContain('App passwords');
  });

  it('refuses a form sent from another site', async () => {
    const r = await post('/account/vacation', { enabled: '1', text: 'x' }, { 'sec-fetch-site': 'cross-site' });
    expect(r.status).toBe(403);
    expect(h.t.store.directory.sieve.get(accountId, VACATION_SCRIPT)).toBeNull();
  });

  it('switches vacation on with text and dates, and off again', async () => {
    const r = await post('/account/vacation', { enabled: '1', from: '2026-12-01', until: '2026-12-31', subject: 'Away', text: 'Back in January.\n.dotted line' });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('Vacation replies are on.');
    const script = h.t.store.directory.sieve.get(accountId, VACATION_SCRIPT)!;
    const run = (now: string) =>
      runScript(script, { message: sieveMessage(Buffer.from('From: b@x.example\r\nTo: ann@example.org\r\n\r\nhi')), envelope: { from: 'b@x.example', to: 'ann@example.org' }, now: new Date(now) }).actions;
    expect(run('2026-12-15T12:00:00Z')[0]).toMatchObject({ type: 'vacation', subject: 'Away', reason: 'Back in January.\r\n.dotted line\r\n', periodSeconds: 7 * 86400 });
    expect(run('2027-01-02T12:00:00Z').some((a) => a.type === 'vacation')).toBe(false);
    // The form shows what was saved.
    const page = await (await h.app.request(`${URL_BASE}/account`, { headers: auth() })).text();
    expect(page).toMatch(/name="enabled" value="1" checked/);
    expect(page).toContain('value="2026-12-31"');
    await post('/account/vacation', { subject: 'Away', text: 'Back in January.' });
    expect(runScript(h.t.store.directory.sieve.get(accountId, VACATION_SCRIPT)!, { message: sieveMessage(Buffer.from('\r\n')), envelope: { from: 'b@x.example', to: 'ann@example.org' }, now: new Date('2026-12-15') }).actions).toEqual([{ type: 'keep', flags: [] }]);
  });

  it('checks a script, refuses a broken one with its line, saves and activates a good one, shows the last delivery error', async () => {
    const bad = await post('/account/sieve', { do: 'save', script: 'require "fileinto";\nfileinto "x"\n' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Not saved: line 3, column 1');
    expect(h.t.store.directory.sieve.active(accountId)).toBeNull();
    const checked = await post('/account/sieve', { do: 'check', script: 'keep;' });
    expect(await checked.text()).toContain('The script is valid.');
    expect(h.t.store.directory.sieve.active(accountId)).toBeNull();
    await post('/account/sieve', { do: 'save', script: 'require "fileinto"; fileinto "Later";' });
    expect(h.t.store.directory.sieve.active(accountId)).toEqual({ name: 'main', source: 'require "fileinto"; fileinto "Later";' });
    h.t.store.directory.sieve.setError(accountId, 'script "main": something broke');
    expect(await (await h.app.request(`${URL_BASE}/account`, { headers: auth() })).text()).toContain('Last problem at delivery');
    await post('/account/sieve', { do: 'off', script: '' });
    expect(h.t.store.directory.sieve.active(accountId)).toBeNull();
  });

  it('creates an app password shown once, which then signs in, and revokes it', async () => {
    const r = await post('/account/app-passwords', { label: 'phone' });
    const m = /New app password \(shown once\): <code>([^<]+)<\/code>/.exec(await r.text());
    expect(m).not.toBeNull();
    const lease = await h.t.store.authenticate('ann@example.org', m![1]);
    expect(lease.via).toBe('app');
    lease.release();
    const [app] = h.t.store.listAppPasswords('ann@example.org');
    expect(app.label).toBe('phone');
    expect(await (await post(`/account/app-passwords/${app.id}/revoke`, {})).text()).toContain('App password revoked.');
    expect(h.t.store.listAppPasswords('ann@example.org')).toEqual([]);
  });

  it('an app password signs in but cannot create or revoke app passwords, even once its login is cached; the page says to use the main password', async () => {
    const made = /New app password \(shown once\): <code>([^<]+)<\/code>/.exec(await (await post('/account/app-passwords', { label: 'phone' })).text());
    const [phone] = h.t.store.listAppPasswords('ann@example.org');
    const asApp: [string, string] = ['ann@example.org', made![1]];
    // Twice: the second sign-in is served from the store's login cache, which must still know it was an app password.
    for (let i = 0; i < 2; i++) {
      const page = await h.app.request(`${URL_BASE}/account`, { headers: auth(...asApp) });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('only when you sign in with your main password');
      expect(html).not.toContain('action="/account/app-passwords"');
      expect(html).not.toContain('/revoke"');
      const create = await post('/account/app-passwords', { label: 'laptop' }, undefined, asApp);
      expect(create.status).toBe(403);
      const text = await create.text();
      expect(text).toContain('sign in with your main password');
      expect(text).not.toContain('New app password');
      const revoke = await post(`/account/app-passwords/${phone.id}/revoke`, {}, undefined, asApp);
      expect(revoke.status).toBe(403);
      expect(h.t.store.listAppPasswords('ann@example.org').map((a) => a.label)).toEqual(['phone']);
    }
    // The main password still manages them, also from the cache.
    for (let i = 0; i < 2; i++) expect((await post('/account/app-passwords', { label: `laptop${i}` })).status).toBe(200);
    expect(await (await post(`/account/app-passwords/${phone.id}/revoke`, {})).text()).toContain('App password revoked.');
    expect(h.t.store.listAppPasswords('ann@example.org').map((a) => a.label).sort()).toEqual(['laptop0', 'laptop1']);
  });
});
