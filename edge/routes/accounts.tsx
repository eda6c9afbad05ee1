/**
 * @module edge/routes/accounts
 * Accounts: create (the recovery key is shown once, on the answer to the
 * POST, never stored by the edge), quota, password reset with the plain
 * zero-access warning, app passwords, deletion with confirmation, and the
 * Apple profile download.
 */
import { MIN_PASSWORD_LENGTH } from '../../node/admin/password-policy.js';
import type { Hono } from 'hono';
import type { EdgeEnv } from '../context.js';
import { act, enc, field, InputError, redirectWith, type Ctx, type Edge } from '../edge.js';
import type { AccountInfo, AppPasswordInfo, DomainInfo } from '../node-api.js';
import { appleProfile } from '../setup/mobileconfig.js';
import { parseEmail } from '../setup/xml.js';
import { bytes, parseBytes, when } from '../views/format.js';
import { Csrf, PostButton } from '../views/layout.js';
import { render } from './render.js';

const ZERO_ACCESS_WARNING =
  'In zero-access mode the server cannot read a mailbox without its owner\'s password. Resetting the password therefore cannot recover the old mail: it is set aside, still encrypted, and only the old password or the old recovery key can open it again. The account starts empty with the new password.';

function quotaOf(text: string): number | null {
  try {
    return parseBytes(text);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}

/** A page that shows a secret once: never cached, never put in a flash cookie. */
function secretPage(c: Ctx, edge: Edge, title: string, lead: string, secret: string, extra: unknown, back: string) {
  c.header('cache-control', 'no-store');
  return render(
    c,
    edge,
    title,
    <>
      <h1>{title}</h1>
      <div class="card">
        <p>{lead}</p>
        <p class="secret" data-secret="">{secret}</p>
        <p><strong>This is shown only once.</strong> Copy it now and keep it somewhere safe (a password manager, or printed). Haven does not keep a readable copy.</p>
        {extra as never}
        <p><a href={back}>Done</a></p>
      </div>
    </>,
  );
}

export function registerAccounts(app: Hono<EdgeEnv>, edge: Edge): void {
  app.get('/accounts', async (c) => {
    const domain = c.req.query('domain') ?? '';
    const [{ accounts }, { domains }] = await Promise.all([
      edge.node().get<{ accounts: AccountInfo[] }>(`/api/v1/accounts${domain ? `?domain=${enc(domain)}` : ''}`),
      edge.node().get<{ domains: DomainInfo[] }>('/api/v1/domains'),
    ]);
    const csrf = c.get('csrf');
    return render(
      c,
      edge,
      'Accounts',
      <>
        <h1>Accounts{domain ? ` at ${domain}` : ''}</h1>
        {accounts.length === 0 ? (
          <div class="card"><p>No accounts{domain ? ` at ${domain}` : ''} yet. Create one below.</p></div>
        ) : (
          <table>
            <thead>
              <tr><th>Address</th><th>Used</th><th>Quota</th><th>Keys</th><th>Created</th></tr>
            </thead>
            <tbody>
              {accounts.map((a) => (
                <tr>
                  <td><a href={`/accounts/${enc(a.address)}`}>{a.address}</a></td>
                  <td>{bytes(a.usedBytes)}</td>
                  <td>{a.quotaBytes ? bytes(a.quotaBytes) : 'none'}</td>
                  <td class="small">{a.keyMode ?? '—'}</td>
                  <td class="small">{when(a.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h2>Create an account</h2>
        {domains.length === 0 ? (
          <div class="card"><p>Add a <a href="/domains">domain</a> first: every address belongs to one.</p></div>
        ) : (
          <form class="stack card" method="post" action="/accounts">
            <Csrf token={csrf} />
            <label>
              Address
              <input name="address" type="email" placeholder={`alice@${domain || domains[0].name}`} required />
            </label>
            <label>
              Password (at least {MIN_PASSWORD_LENGTH} characters; the owner can change it later)
              <input name="password" type="password" autocomplete="new-password" minlength={MIN_PASSWORD_LENGTH} required />
            </label>
            <label>
              Quota (optional, e.g. 2 GB)
              <input name="quota" placeholder="no quota" />
            </label>
            <button type="submit">Create account</button>
          </form>
        )}
      </>,
    );
  });

  app.post('/accounts', async (c) => {
    const form = await c.req.parseBody();
    return act(c, edge, '/accounts', async () => {
      const address = field(form, 'address').toLowerCase();
      if (!parseEmail(address)) throw new InputError(`"${address}" is not an address: type one like alice@example.com.`);
      const password = typeof form.password === 'string' ? form.password : '';
      if (password.length < MIN_PASSWORD_LENGTH) throw new InputError(`The password must be at least ${MIN_PASSWORD_LENGTH} characters: a few unrelated words make a good one.`);
      const quota = quotaOf(field(form, 'quota'));
      const r = await edge.node().post<{ address: string; recoveryKey: string }>('/api/v1/accounts', { address, password, ...(quota ? { quotaBytes: quota } : {}) });
      return secretPage(
        c,
        edge,
        `Created ${r.address}`,
        `The account is ready. This is its recovery key: with it, the owner can open their mail if they forget the password.`,
        r.recoveryKey,
        <p>
          Set up a device: <a href={`/accounts/${enc(r.address)}/apple.mobileconfig`}>Apple profile</a>; Thunderbird and Outlook find the settings by themselves from the address.
        </p>,
        `/accounts/${enc(r.address)}`,
      );
    });
  });

  app.get('/accounts/:address', async (c) => {
    const address = c.req.param('address');
    const domain = address.slice(address.lastIndexOf('@') + 1);
    const [{ accounts }, { appPasswords }] = await Promise.all([
      edge.node().get<{ accounts: AccountInfo[] }>(`/api/v1/accounts?domain=${enc(domain)}`),
      edge.node().get<{ appPasswords: AppPasswordInfo[] }>(`/api/v1/accounts/${enc(address)}/app-passwords`),
    ]);
    const a = accounts.find((x) => x.address.toLowerCase() === address.toLowerCase());
    if (!a) throw new InputError(`There is no account ${address}: pick one from the list of accounts.`);
    const csrf = c.get('csrf');
    const base = `/accounts/${enc(a.address)}`;
    return render(
      c,
      edge,
      a.address,
      <>
        <h1>{a.address}</h1>
        <div class="grid">
          <div class="stat"><div class="label">Used</div><div class="value">{bytes(a.usedBytes)}</div></div>
          <div class="stat"><div class="label">Quota</div><div class="value">{a.quotaBytes ? bytes(a.quotaBytes) : 'none'}</div></div>
          <div class="stat"><div class="label">Key mode</div><div class="value">{a.keyMode ?? '—'}</div></div>
          <div class="stat"><div class="label">Created</div><div class="value small">{when(a.createdAt)}</div></div>
        </div>
        <h2>Devices</h2>
        <div class="card">
          <p>
            <a href={`${base}/apple.mobileconfig`}>Download the Apple profile</a> (iPhone, iPad, Mac: mail, calendar and contacts; the device asks for the password). Thunderbird and Outlook configure themselves from the address.
          </p>
        </div>
        <h2>Quota</h2>
        <form class="row card" method="post" action={`${base}/quota`}>
          <Csrf token={csrf} />
          <label>
            New quota (empty for none)
            <input name="quota" value={a.quotaBytes ? bytes(a.quotaBytes) : ''} />
          </label>
          <button type="submit">Set quota</button>
        </form>
        <h2>App passwords</h2>
        {appPasswords.length ? (
          <table>
            <thead><tr><th>Name</th><th>Created</th><th>Last used</th><th></th></tr></thead>
            <tbody>
              {appPasswords.map((p) => (
                <tr>
                  <td>{p.name}</td>
                  <td class="small">{when(p.createdAt)}</td>
                  <td class="small">{p.lastUsedAt ? when(p.lastUsedAt) : 'never'}</td>
                  <td><PostButton action={`${base}/app-passwords/${enc(String(p.id))}/delete`} csrf={csrf} label="Revoke" danger /></td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">No app passwords. Make one per device so a lost phone can be shut out alone.</p>
        )}
        <form class="stack card" method="post" action={`${base}/app-passwords`}>
          <Csrf token={csrf} />
          <label>
            Device name
            <input name="name" placeholder="Phone" required />
          </label>
          <label>
            The account's password (needed to give the new password access to the encrypted mailbox)
            <input name="password" type="password" autocomplete="off" required />
          </label>
          <button type="submit">Make app password</button>
        </form>
        <h2>Reset password</h2>
        <form class="stack card" method="post" action={`${base}/reset-password`}>
          <Csrf token={csrf} />
          {a.keyMode === 'managed' ? (
            <p class="muted">This account is in managed mode: the server holds a key to the mailbox, so the mail stays in place and the owner simply uses the new password.</p>
          ) : (
            <p class="warning">{ZERO_ACCESS_WARNING}</p>
          )}
          <label>
            New password (at least {MIN_PASSWORD_LENGTH} characters)
            <input name="password" type="password" autocomplete="new-password" minlength={MIN_PASSWORD_LENGTH} required />
          </label>
          <button class="danger" type="submit">Reset password</button>
        </form>
        <h2>Delete</h2>
        <div class="card">
          <p><a href={`${base}/delete`}>Delete {a.address}…</a></p>
        </div>
      </>,
    );
  });

  app.post('/accounts/:address/quota', async (c) => {
    const address = c.req.param('address');
    const form = await c.req.parseBody();
    const back = `/accounts/${enc(address)}`;
    return act(c, edge, back, async () => {
      const quota = quotaOf(field(form, 'quota'));
      // The node takes 0 as "no quota".
      await edge.node().patch(`/api/v1/accounts/${enc(address)}`, { quotaBytes: quota ?? 0 });
      return redirectWith(c, edge, back, 'ok', quota ? `Quota for ${address} is now ${bytes(quota)}.` : `${address} has no quota now.`);
    });
  });

  app.post('/accounts/:address/reset-password', async (c) => {
    const address = c.req.param('address');
    const form = await c.req.parseBody();
    const back = `/accounts/${enc(address)}`;
    return act(c, edge, back, async () => {
      const password = typeof form.password === 'string' ? form.password : '';
      if (password.length < MIN_PASSWORD_LENGTH) throw new InputError(`Nothing was changed: the new password must be at least ${MIN_PASSWORD_LENGTH} characters.`);
      const r = await edge.node().post<{ recoveryKey: string | null; warning?: string }>(`/api/v1/accounts/${enc(address)}/reset-password`, { password });
      if (!r.recoveryKey) return redirectWith(c, edge, back, 'ok', `The password for ${address} is changed. ${r.warning ?? ''}`.trim());
      return secretPage(c, edge, `New password for ${address}`, 'The password is changed. This is the account\'s new recovery key.', r.recoveryKey, <p class="warning">{r.warning || ZERO_ACCESS_WARNING}</p>, back);
    });
  });

  app.post('/accounts/:address/app-passwords', async (c) => {
    const address = c.req.param('address');
    const form = await c.req.parseBody();
    const back = `/accounts/${enc(address)}`;
    return act(c, edge, back, async () => {
      const name = field(form, 'name');
      if (!name) throw new InputError('Give the app password a name, like the device it is for.');
      const password = typeof form.password === 'string' ? form.password : '';
      const r = await edge.node().post<{ id: string; name: string; password: string }>(`/api/v1/accounts/${enc(address)}/app-passwords`, { name, password });
      return secretPage(c, edge, `App password "${r.name}"`, `Type this into the device instead of ${address}'s password.`, r.password, null, back);
    });
  });

  app.post('/accounts/:address/app-passwords/:id/delete', async (c) => {
    const address = c.req.param('address');
    const back = `/accounts/${enc(address)}`;
    return act(c, edge, back, async () => {
      await edge.node().delete(`/api/v1/accounts/${enc(address)}/app-passwords/${enc(c.req.param('id'))}`);
      return redirectWith(c, edge, back, 'ok', 'App password revoked: the device using it can no longer log in.');
    });
  });

  app.get('/accounts/:address/delete', (c) => {
    const address = c.req.param('address');
    return render(
      c,
      edge,
      `Delete ${address}`,
      <>
        <h1>Delete {address}?</h1>
        <form class="stack card" method="post" action={`/accounts/${enc(address)}/delete`}>
          <Csrf token={c.get('csrf')} />
          <p class="warning">All of its mail, calendars and contacts are deleted and cannot be brought back (except from a replica restore). Mail to the address will bounce. Type the address to confirm.</p>
          <label>
            Address
            <input name="confirm" autocomplete="off" required />
          </label>
          <button class="danger" type="submit">Delete account</button>
          <a href={`/accounts/${enc(address)}`}>Cancel</a>
        </form>
      </>,
    );
  });

  app.post('/accounts/:address/delete', async (c) => {
    const address = c.req.param('address');
    const confirm = field(await c.req.parseBody(), 'confirm');
    return act(c, edge, `/accounts/${enc(address)}/delete`, async () => {
      if (confirm.toLowerCase() !== address.toLowerCase()) throw new InputError(`Nothing was deleted: type ${address} exactly to confirm.`);
      await edge.node().delete(`/api/v1/accounts/${enc(address)}`);
      return redirectWith(c, edge, `/accounts?domain=${enc(address.slice(address.lastIndexOf('@') + 1))}`, 'ok', `Deleted ${address}.`);
    });
  });

  app.get('/accounts/:address/apple.mobileconfig', async (c) => {
    const email = parseEmail(c.req.param('address'));
    if (!email) throw new InputError('That is not an address: open the profile from the account\'s page.');
    const profile = await appleProfile(edge.setup(email.domain), email.address);
    c.header('content-type', 'application/x-apple-aspen-config; charset=utf-8');
    c.header('content-disposition', `attachment; filename="${email.address.replace(/[^a-zA-Z0-9@._-]/g, '_')}.mobileconfig"`);
    c.header('cache-control', 'no-store');
    return c.body(profile);
  });
}
