/**
 * @module edge/routes/mail
 * Aliases (forwarding and catch-all), the outbound queue (retry, delete) and
 * replication status.
 */
import type { Hono } from 'hono';
import type { EdgeEnv } from '../context.js';
import { act, enc, field, InputError, redirectWith, type Edge } from '../edge.js';
import type { AliasInfo, DomainInfo, QueueMessage, ReplicationInfo } from '../node-api.js';
import { parseEmail } from '../setup/xml.js';
import { bytes, seconds, when } from '../views/format.js';
import { Badge, Csrf, PostButton, Stat } from '../views/layout.js';
import { render } from './render.js';

function targetsOf(text: string): string[] {
  const list = text.split(/[\s,;]+/).filter(Boolean);
  if (list.length === 0) throw new InputError('Give at least one address to deliver to.');
  for (const t of list) if (!parseEmail(t)) throw new InputError(`"${t}" is not an address: list addresses like bob@example.org, separated by commas.`);
  return list;
}

export function registerMail(app: Hono<EdgeEnv>, edge: Edge): void {
  app.get('/aliases', async (c) => {
    const domain = c.req.query('domain') ?? '';
    const [{ aliases }, { domains }] = await Promise.all([
      edge.node().get<{ aliases: AliasInfo[] }>(`/api/v1/aliases${domain ? `?domain=${enc(domain)}` : ''}`),
      edge.node().get<{ domains: DomainInfo[] }>('/api/v1/domains'),
    ]);
    const csrf = c.get('csrf');
    const example = domain || domains[0]?.name || 'example.com';
    return render(
      c,
      edge,
      'Aliases',
      <>
        <h1>Aliases{domain ? ` at ${domain}` : ''}</h1>
        {aliases.length === 0 ? (
          <div class="card"><p>No aliases. An alias delivers mail for one address to others (forwarding); a catch-all takes mail for every address of a domain that has no account.</p></div>
        ) : (
          <table>
            <thead><tr><th>Address</th><th>Delivers to</th><th></th></tr></thead>
            <tbody>
              {aliases.map((a) => (
                <tr>
                  <td>{a.address.startsWith('*@') ? <><Badge kind="warn">catch-all</Badge> {a.address}</> : a.address}</td>
                  <td>{a.targets.join(', ')}</td>
                  <td><PostButton action={`/aliases/${enc(a.address)}/delete`} csrf={csrf} label="Remove" danger /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h2>Add an alias or forwarding</h2>
        <form class="stack card" method="post" action="/aliases">
          <Csrf token={csrf} />
          <label>
            Address
            <input name="address" placeholder={`sales@${example}`} required />
          </label>
          <label>
            Deliver to (one or more addresses, here or elsewhere)
            <input name="targets" placeholder={`alice@${example}, bob@example.org`} required />
          </label>
          <button type="submit">Add alias</button>
        </form>
        <h2>Catch-all</h2>
        <form class="row card" method="post" action="/aliases">
          <Csrf token={csrf} />
          <input type="hidden" name="catchall" value="1" />
          <label>
            Domain
            <select name="domain">
              {domains.map((d) => (
                <option value={d.name} selected={d.name === domain}>{d.name}</option>
              ))}
            </select>
          </label>
          <label>
            Deliver unknown addresses to
            <input name="targets" placeholder={`alice@${example}`} required />
          </label>
          <button type="submit">Set catch-all</button>
        </form>
        <p class="small muted">A catch-all also collects spam sent to made-up addresses; use it only if you hand out addresses freely.</p>
      </>,
    );
  });

  app.post('/aliases', async (c) => {
    const form = await c.req.parseBody();
    return act(c, edge, '/aliases', async () => {
      const address = field(form, 'catchall') ? `*@${field(form, 'domain').toLowerCase()}` : field(form, 'address').toLowerCase();
      if (!address.startsWith('*@') && !parseEmail(address)) throw new InputError(`"${address}" is not an address: type one like sales@example.com.`);
      if (address === '*@') throw new InputError('Pick the domain the catch-all is for.');
      const targets = targetsOf(field(form, 'targets'));
      await edge.node().post('/api/v1/aliases', { address, targets });
      return redirectWith(c, edge, `/aliases?domain=${enc(address.slice(address.indexOf('@') + 1))}`, 'ok', `Mail to ${address} now goes to ${targets.join(', ')}.`);
    });
  });

  app.post('/aliases/:address/delete', async (c) => {
    const address = c.req.param('address');
    return act(c, edge, '/aliases', async () => {
      await edge.node().delete(`/api/v1/aliases/${enc(address)}`);
      return redirectWith(c, edge, '/aliases', 'ok', `Removed ${address}.`);
    });
  });

  app.get('/queue', async (c) => {
    const { messages } = await edge.node().get<{ messages: QueueMessage[] }>('/api/v1/queue');
    const csrf = c.get('csrf');
    return render(
      c,
      edge,
      'Queue',
      <>
        <h1>Outbound queue</h1>
        {messages.length === 0 ? (
          <div class="card"><p>The queue is empty: every outgoing message has been delivered or bounced.</p></div>
        ) : (
          <>
            <p class="muted">Messages the node is still trying to deliver. Failures are retried with growing pauses; a message that keeps failing bounces to its sender. "Retry now" skips the pause.</p>
            <table>
              <thead><tr><th>From</th><th>Recipients</th><th>Queued</th><th>Size</th><th></th></tr></thead>
              <tbody>
                {messages.map((m) => (
                  <tr>
                    <td class="mono">{m.from}</td>
                    <td>
                      {m.recipients.map((r) => (
                        <div>
                          <span class="mono">{r.address}</span> <Badge kind={r.state === 'delivered' ? 'ok' : r.state === 'failed' || r.state === 'bounced' ? 'bad' : 'warn'}>{r.state}</Badge>{' '}
                          <span class="small muted">
                            {r.attempts} attempt{r.attempts === 1 ? '' : 's'}
                            {r.nextAttemptAt ? `, next ${when(r.nextAttemptAt)}` : ''}
                          </span>
                          {r.lastError ? <div class="small mono">{r.lastError}</div> : null}
                        </div>
                      ))}
                    </td>
                    <td class="small">{when(m.createdAt)}</td>
                    <td>{bytes(m.size)}</td>
                    <td>
                      <PostButton action={`/queue/${enc(String(m.id))}/retry`} csrf={csrf} label="Retry now" secondary />{' '}
                      <PostButton action={`/queue/${enc(String(m.id))}/delete`} csrf={csrf} label="Delete" danger />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </>,
    );
  });

  app.post('/queue/:id/retry', async (c) => {
    const id = c.req.param('id');
    return act(c, edge, '/queue', async () => {
      await edge.node().post(`/api/v1/queue/${enc(id)}/retry`);
      return redirectWith(c, edge, '/queue', 'ok', 'Delivery will be tried again now. Reload in a minute to see the result.');
    });
  });

  app.post('/queue/:id/delete', async (c) => {
    const id = c.req.param('id');
    return act(c, edge, '/queue', async () => {
      await edge.node().delete(`/api/v1/queue/${enc(id)}`);
      return redirectWith(c, edge, '/queue', 'ok', 'Message removed from the queue without a bounce; tell the sender if it mattered.');
    });
  });

  app.get('/replication', async (c) => {
    const r = await edge.node().get<ReplicationInfo>('/api/v1/replication');
    const describe = (e: unknown): string => {
      if (!e || typeof e !== 'object') return String(e);
      const o = e as { message?: unknown; at?: string | null };
      return `${String(o.message ?? JSON.stringify(o))}${o.at ? ` (${when(o.at)})` : ''}`;
    };
    const errors = Array.isArray(r.errors) ? r.errors.map(describe) : r.errors ? [describe(r.errors)] : [];
    const dbCount = Array.isArray(r.databases) ? r.databases.length : r.databases;
    return render(
      c,
      edge,
      'Replication',
      <>
        <h1>Replication</h1>
        {!r.enabled ? (
          <div class="card warning">
            <p>Replication is off: if this server's disk is lost, the mail is lost. Set <code>replication.url</code> on the node (an S3 bucket such as Cloudflare R2, or a path) and restart it.</p>
          </div>
        ) : (
          <div class="grid">
            <Stat label="Replica">{r.target ?? '—'}</Stat>
            <Stat label="Lag" kind={r.lagSeconds == null ? 'unk' : r.lagSeconds < 60 ? 'ok' : r.lagSeconds < 900 ? 'warn' : 'bad'}>{seconds(r.lagSeconds)}</Stat>
            <Stat label="Databases">{dbCount ?? '—'}</Stat>
            <Stat label="Last shipped">{when(r.lastShippedAt)}</Stat>
          </div>
        )}
        {r.enabled && r.missing?.length ? (
          <div class="flash error">
            <p>
              <span class="badge bad">FAIL</span> {r.missing.length} database(s) of this node are not in the replica, so a restore would lose them: {r.missing.join(', ')}. Run <code>haven backup</code> on the node and check its log.
            </p>
          </div>
        ) : null}
        {errors.length ? (
          <>
            <h2>Errors</h2>
            <div class="card">
              {errors.map((e) => (
                <p class="mono">{e}</p>
              ))}
              <p>Check the replica's credentials and that the bucket exists; the node keeps shipping once it can reach it again.</p>
            </div>
          </>
        ) : null}
      </>,
    );
  });
}
