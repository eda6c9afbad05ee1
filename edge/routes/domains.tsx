/**
 * @module edge/routes/domains
 * Mail domains: the list, adding one, and per domain the DNS records the node
 * says it needs with whether each is live (checked from outside through
 * DNS-over-HTTPS), DKIM key rotation and removal, and the domain's Sieve
 * "before" script that runs ahead of every account's own (docs/filtering.md).
 */
import type { Hono } from 'hono';
import type { EdgeEnv } from '../context.js';
import type { Liveness } from '../dns-check.js';
import { act, enc, field, InputError, redirectWith, type Edge } from '../edge.js';
import { NodeApiError } from '../node-api.js';
import type { DnsRecordInfo, DomainInfo } from '../node-api.js';
import { when } from '../views/format.js';
import { Badge, Csrf, PostButton } from '../views/layout.js';
import { render } from './render.js';

const LiveBadge = ({ live }: { live: Liveness | undefined }) =>
  live === true ? <Badge kind="ok">live</Badge> : live === false ? <Badge kind="bad">missing</Badge> : <Badge kind="unk">not checked</Badge>;

export function registerDomains(app: Hono<EdgeEnv>, edge: Edge): void {
  app.get('/domains', async (c) => {
    const { domains } = await edge.node().get<{ domains: DomainInfo[] }>('/api/v1/domains');
    const csrf = c.get('csrf');
    return render(
      c,
      edge,
      'Domains',
      <>
        <h1>Domains</h1>
        {domains.length === 0 ? (
          <div class="card">
            <p>No mail domains yet. Add the domain your addresses will end in (the part after the @); then publish the DNS records it shows you.</p>
          </div>
        ) : (
          <table>
            <thead>
              <tr><th>Domain</th><th>Accounts</th><th>Aliases</th><th>Added</th></tr>
            </thead>
            <tbody>
              {domains.map((d) => (
                <tr>
                  <td><a href={`/domains/${enc(d.name)}`}>{d.name}</a></td>
                  <td><a href={`/accounts?domain=${enc(d.name)}`}>{d.accounts ?? '—'}</a></td>
                  <td><a href={`/aliases?domain=${enc(d.name)}`}>{d.aliases ?? '—'}</a></td>
                  <td class="small">{when(d.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h2>Add a domain</h2>
        <form class="row card" method="post" action="/domains">
          <Csrf token={csrf} />
          <label>
            Domain name
            <input name="name" placeholder="example.com" required />
          </label>
          <button type="submit">Add domain</button>
        </form>
      </>,
    );
  });

  app.post('/domains', async (c) => {
    const name = field(await c.req.parseBody(), 'name').toLowerCase();
    return act(c, edge, '/domains', async () => {
      if (!name) throw new InputError('Type a domain name like example.com.');
      await edge.node().post('/api/v1/domains', { name });
      return redirectWith(c, edge, `/domains/${enc(name)}`, 'ok', `Added ${name}. Publish the DNS records below; each turns green once the world can see it.`);
    });
  });

  app.get('/domains/:name', async (c) => {
    const name = c.req.param('name');
    const { records } = await edge.node().get<{ records: DnsRecordInfo[] }>(`/api/v1/domains/${enc(name)}/dns`);
    const live: Liveness[] = edge.dns ? await edge.dns.check(records) : records.map((r) => r.live ?? null);
    const missing = live.filter((l) => l === false).length;
    const unchecked = live.filter((l) => l === null).length;
    const csrf = c.get('csrf');
    return render(
      c,
      edge,
      name,
      <>
        <h1>{name}</h1>
        <p>
          <a href={`/accounts?domain=${enc(name)}`}>Accounts</a> · <a href={`/aliases?domain=${enc(name)}`}>Aliases</a>
        </p>
        <h2>DNS records</h2>
        <div class="card">
          {missing > 0 ? (
            <p>
              <Badge kind="bad">{`${missing} missing`}</Badge> Create the records marked missing at your DNS provider exactly as shown (or run <code>pulumi up</code>, which creates them all), then reload this page. Changes can take up to the record's TTL to show.
            </p>
          ) : unchecked === records.length ? (
            <p class="muted">The records could not be checked from here (DNS-over-HTTPS did not answer). Compare them with your DNS provider by hand or reload later.</p>
          ) : (
            <p>
              <Badge kind="ok">all live</Badge> Every record that could be checked is published as it should be.
            </p>
          )}
        </div>
        <table>
          <thead>
            <tr><th>Status</th><th>Type</th><th>Name</th><th>Value</th><th>Why</th></tr>
          </thead>
          <tbody>
            {records.map((r, i) => (
              <tr>
                <td><LiveBadge live={live[i]} /></td>
                <td>{r.type}</td>
                <td class="mono name">{r.name}</td>
                <td class="mono">{r.priority !== undefined && !r.value.startsWith(`${r.priority} `) ? `${r.priority} ${r.value}` : r.value}</td>
                <td class="small">{r.purpose ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>DKIM</h2>
        <div class="card">
          <p>Rotating makes a new signing key under a new selector. Publish its TXT record (it appears above) before the old one is removed, or receivers will fail DKIM for mail in flight.</p>
          <PostButton action={`/domains/${enc(name)}/dkim/rotate`} csrf={csrf} label="Rotate DKIM key" secondary />
        </div>
        <h2>Filtering</h2>
        <div class="card">
          <p>A Sieve script that runs for every account of {name} before the account's own. <a href={`/domains/${enc(name)}/filter`}>Edit the domain's filter…</a></p>
        </div>
        <h2>Remove</h2>
        <div class="card">
          <p>A domain can be removed once it has no accounts. <a href={`/domains/${enc(name)}/delete`}>Remove {name}…</a></p>
        </div>
      </>,
    );
  });

  app.post('/domains/:name/dkim/rotate', async (c) => {
    const name = c.req.param('name');
    return act(c, edge, `/domains/${enc(name)}`, async () => {
      const r = await edge.node().post<{ selector?: string }>(`/api/v1/domains/${enc(name)}/dkim/rotate`);
      return redirectWith(c, edge, `/domains/${enc(name)}`, 'ok', `New DKIM key made${r?.selector ? ` (selector ${r.selector})` : ''}. Publish its TXT record now.`);
    });
  });

  app.get('/domains/:name/filter', async (c) => {
    const name = c.req.param('name');
    let source = '';
    try {
      source = (await edge.node().get<{ source: string }>(`/api/v1/domains/${enc(name)}/sieve/before`)).source;
    } catch (err) {
      if (!(err instanceof NodeApiError && err.status === 404)) throw err;
    }
    return render(
      c,
      edge,
      `Filter for ${name}`,
      <>
        <h1>Filter for {name}</h1>
        <form class="stack card" method="post" action={`/domains/${enc(name)}/filter`}>
          <Csrf token={c.get('csrf')} />
          <p>
            This Sieve script (RFC 5228) runs on every message to an account of {name} before the account's own script; when it files, discards or
            rejects a message, the account's script does not run. Leave it empty for none. The node checks it before saving and names the line of any error.
          </p>
          <textarea name="source" rows={16} class="mono" spellcheck={false}>{source}</textarea>
          <button type="submit">Save</button>
        </form>
      </>,
    );
  });

  app.post('/domains/:name/filter', async (c) => {
    const name = c.req.param('name');
    const form = await c.req.parseBody();
    const source = typeof form.source === 'string' ? form.source : '';
    return act(c, edge, `/domains/${enc(name)}/filter`, async () => {
      if (!source.trim()) {
        try {
          await edge.node().delete(`/api/v1/domains/${enc(name)}/sieve/before`);
        } catch (err) {
          if (!(err instanceof NodeApiError && err.status === 404)) throw err;
        }
        return redirectWith(c, edge, `/domains/${enc(name)}`, 'ok', `${name} has no domain filter now.`);
      }
      try {
        await edge.node().put(`/api/v1/domains/${enc(name)}/sieve/before`, { source });
      } catch (err) {
        // The node names the line; the admin also needs to know that nothing changed and what to do.
        if (err instanceof NodeApiError && err.status === 400) throw new InputError(`${err.message}. Nothing was saved and the filter in force is unchanged: correct the script at that line and save it again.`);
        throw err;
      }
      return redirectWith(c, edge, `/domains/${enc(name)}`, 'ok', `Saved the filter for ${name}; it applies to the next message.`);
    });
  });

  app.get('/domains/:name/delete', (c) => {
    const name = c.req.param('name');
    return render(
      c,
      edge,
      `Remove ${name}`,
      <>
        <h1>Remove {name}?</h1>
        <form class="stack card" method="post" action={`/domains/${enc(name)}/delete`}>
          <Csrf token={c.get('csrf')} />
          <p>The node stops accepting mail for {name}. Its accounts must be deleted first. Type the domain name to confirm.</p>
          <label>
            Domain name
            <input name="confirm" autocomplete="off" required />
          </label>
          <button class="danger" type="submit">Remove domain</button>
          <a href={`/domains/${enc(name)}`}>Cancel</a>
        </form>
      </>,
    );
  });

  app.post('/domains/:name/delete', async (c) => {
    const name = c.req.param('name');
    const confirm = field(await c.req.parseBody(), 'confirm');
    return act(c, edge, `/domains/${enc(name)}/delete`, async () => {
      if (confirm.toLowerCase() !== name.toLowerCase()) throw new InputError(`Nothing was removed: type ${name} exactly to confirm.`);
      await edge.node().delete(`/api/v1/domains/${enc(name)}`);
      return redirectWith(c, edge, '/domains', 'ok', `Removed ${name}. Delete its DNS records at your DNS provider if you no longer use them.`);
    });
  });
}
