/**
 * The admin pages through app.request() against a real node (node/http's
 * admin API over a real store, on a port) and a real DNS-over-HTTPS server:
 * domains with live DNS records, accounts (recovery key once, quota, reset,
 * app passwords, delete with confirmation), aliases, the queue, replication,
 * hostile names escaped, and errors that say what to do next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDohChecker, createEdgeApp, MemoryKv } from '../../edge/index.js';
import { queueFor } from '../../node/smtp/context.js';
import { Client, deadPort, MAIL_HOST, passwordHash, SECRET, startDoh, startNode, type DohServer, type RunningNode } from './harness.js';

let node: RunningNode;
let doh: DohServer;
let hash: string;

beforeAll(async () => {
  [node, doh, hash] = await Promise.all([startNode(), startDoh(), passwordHash()]);
});
afterAll(async () => {
  await Promise.all([node.close(), doh.close()]);
});

async function admin(extra: Partial<Parameters<typeof createEdgeApp>[0]> = {}) {
  const { app } = createEdgeApp({ nodeUrl: node.url, edgeSecret: SECRET, adminPasswordHash: hash, kv: new MemoryKv(), dnsChecker: createDohChecker({ endpoint: doh.endpoint }), ...extra });
  const c = new Client(app);
  expect((await c.login()).status).toBe(303);
  return c;
}

/** The text of each element with the given class, tags stripped. */
function badges(html: string): string[] {
  return [...html.matchAll(/<span class="badge (\w+)">([^<]*)<\/span>/g)].map((m) => `${m[1]}:${m[2]}`);
}

async function apiRecords(domain: string) {
  const res = await node.call('GET', `/api/v1/domains/${domain}/dns`);
  return ((await res.json()) as { records: { type: string; name: string; value: string; priority?: number }[] }).records;
}

describe('domains', () => {
  it('adds a domain and shows each DNS record with whether it is live', async () => {
    const c = await admin();
    const added = await c.submit('/domains', '/domains', { name: 'Example.org' });
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe('/domains/example.org');
    const records = await apiRecords('example.org');
    // Publish everything except the DKIM key and the MTA-STS TXT.
    const missing = records.filter((r) => r.name.includes('._domainkey.') || r.name.startsWith('_mta-sts.'));
    doh.publish(records.filter((r) => !missing.includes(r)));
    const page = await c.fetch(added.headers.get('location')!);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html.startsWith('<!DOCTYPE html><html lang="en">')).toBe(true);
    expect(html).toContain('Added example.org');
    const b = badges(html).filter((x) => /:(live|missing|not checked)$/.test(x));
    expect(b).toHaveLength(records.length);
    expect(b.filter((x) => x === 'bad:missing')).toHaveLength(missing.length);
    expect(b.filter((x) => x === 'ok:live')).toHaveLength(records.length - missing.length);
    expect(html).toContain(`${missing.length} missing`);
    for (const r of records) expect(html).toContain(r.name);
    expect(html).toContain(`10 ${MAIL_HOST}`);
    // Every lookup went to the DoH server, each name and type once.
    expect(new Set(doh.queries).size).toBe(doh.queries.length);
    // The list shows the domain with its counts.
    const list = await (await c.fetch('/domains')).text();
    expect(list).toContain('href="/domains/example.org"');
    expect(await (await c.fetch('/')).text()).toContain('>1 domain</a>');
    // A domain the node does not have is a 404 with the node's advice.
    const unknown = await c.fetch('/domains/unknown.example');
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('no domain unknown.example');
  });

  it('says when DNS could not be checked', async () => {
    const c = await admin({ dnsChecker: createDohChecker({ endpoint: `http://127.0.0.1:${await deadPort()}/dns-query` }) });
    const html = await (await c.fetch('/domains/example.org')).text();
    expect(html).toContain('could not be checked from here');
    expect(badges(html)).not.toContain('ok:live');
  });

  it('rotates the DKIM key and removes a domain only after typed confirmation', async () => {
    const c = await admin();
    await c.submit('/domains', '/domains', { name: 'gone.example' });
    const rot = await c.submit('/domains/gone.example', '/domains/gone.example/dkim/rotate', {});
    expect(rot.status).toBe(303);
    expect(await (await c.fetch('/domains/gone.example')).text()).toMatch(/New DKIM key made \(selector haven\d+/);
    const wrong = await c.submit('/domains/gone.example/delete', '/domains/gone.example/delete', { confirm: 'gone.exampl' });
    expect(wrong.headers.get('location')).toBe('/domains/gone.example/delete');
    expect(await (await c.fetch('/domains/gone.example/delete')).text()).toContain('type gone.example exactly');
    expect(node.t.store.directory.getDomain('gone.example')).toBeTruthy();
    const ok = await c.submit('/domains/gone.example/delete', '/domains/gone.example/delete', { confirm: 'gone.example' });
    expect(ok.headers.get('location')).toBe('/domains');
    expect(node.t.store.directory.getDomain('gone.example')).toBeFalsy();
  });
});

describe('accounts', () => {
  it('creates an account showing the recovery key once, never again', async () => {
    const c = await admin();
    const res = await c.submit('/accounts', '/accounts', { address: 'alice@example.org', password: 'correct horse battery staple', quota: '1 GB' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    const key = /<p class="secret"[^>]*>([^<]+)<\/p>/.exec(html)?.[1];
    expect(key).toBeTruthy();
    expect(html).toContain('shown only once');
    expect(html).toContain('/accounts/alice%40example.org/apple.mobileconfig');
    expect(node.t.store.directory.getAccount('alice@example.org')?.quotaBytes).toBe(1024 ** 3);
    const later = await (await c.fetch('/accounts/alice%40example.org')).text();
    expect(later).toContain('alice@example.org');
    expect(later).not.toContain(key!);
    expect(await (await c.fetch('/accounts?domain=example.org')).text()).not.toContain(key!);
  });

  it('refuses a short password and a bad address without calling the node, saying what to do', async () => {
    const c = await admin();
    const short = await c.submit('/accounts', '/accounts', { address: 'bob@example.org', password: 'short' });
    expect(short.status).toBe(303);
    expect(await (await c.fetch('/accounts')).text()).toContain('at least 12 characters');
    await c.submit('/accounts', '/accounts', { address: 'no-at-sign', password: 'long enough password' });
    expect(await (await c.fetch('/accounts')).text()).toContain('type one like alice@example.com');
    expect(node.t.store.directory.getAccount('bob@example.org')).toBeFalsy();
  });

  it('shows the node\'s reason when it refuses (unknown domain)', async () => {
    const c = await admin();
    await c.submit('/accounts', '/accounts', { address: 'carol@nowhere.example', password: 'long enough password' });
    const html = await (await c.fetch('/accounts')).text();
    expect(html).toMatch(/class="flash error"[^>]*>[^<]*nowhere\.example/);
  });

  it('sets the quota, resets the password with the zero-access warning, manages app passwords, deletes with confirmation', async () => {
    const c = await admin();
    await c.submit('/accounts', '/accounts', { address: 'dave@example.org', password: 'dave original password' });
    const page = '/accounts/dave%40example.org';
    await c.submit(page, `${page}/quota`, { quota: '2 GB' });
    expect(node.t.store.directory.getAccount('dave@example.org')?.quotaBytes).toBe(2 * 1024 ** 3);
    await c.submit(page, `${page}/quota`, { quota: 'lots' });
    expect(await (await c.fetch(page)).text()).toContain('type something like 500 MB or 2 GB');
    await c.submit(page, `${page}/quota`, { quota: '' });
    expect(node.t.store.directory.getAccount('dave@example.org')?.quotaBytes || null).toBeNull();
    expect(await (await c.fetch(page)).text()).toContain('has no quota now');

    const before = await (await c.fetch(page)).text();
    expect(before).toContain('cannot recover the old mail');
    const ap = await c.submit(page, `${page}/app-passwords`, { name: 'Phone', password: 'dave original password' });
    expect(ap.status).toBe(200);
    const apHtml = await ap.text();
    const appPassword = /<p class="secret"[^>]*>([^<]+)<\/p>/.exec(apHtml)?.[1];
    expect(appPassword).toBeTruthy();
    const withAp = await (await c.fetch(page)).text();
    expect(withAp).toContain('<td>Phone</td>');
    expect(withAp).not.toContain(appPassword!);
    const revokeAction = /action="(\/accounts\/dave%40example\.org\/app-passwords\/[^"]+\/delete)"/.exec(withAp)![1];
    await c.submit(page, revokeAction, {});
    expect(await (await c.fetch(page)).text()).toContain('App password revoked');
    expect(node.t.store.listAppPasswords('dave@example.org')).toHaveLength(0);

    const reset = await c.submit(page, `${page}/reset-password`, { password: 'dave new password here' });
    expect(reset.status).toBe(200);
    const resetHtml = await reset.text();
    expect(resetHtml).toContain('EMPTY mailbox');
    expect(/<p class="secret"[^>]*>([^<]+)<\/p>/.test(resetHtml)).toBe(true);

    await c.submit(`${page}/delete`, `${page}/delete`, { confirm: 'dave@example.com' });
    expect(node.t.store.directory.getAccount('dave@example.org')).toBeTruthy();
    const del = await c.submit(`${page}/delete`, `${page}/delete`, { confirm: 'dave@example.org' });
    expect(del.headers.get('location')).toBe('/accounts?domain=example.org');
    expect(node.t.store.directory.getAccount('dave@example.org')).toBeFalsy();
  });
});

describe('aliases, queue, replication', () => {
  it('adds forwarding and a catch-all, and removes them', async () => {
    const c = await admin();
    await c.submit('/aliases', '/aliases', { address: 'sales@example.org', targets: 'alice@example.org, bob@example.net' });
    await c.submit('/aliases', '/aliases', { catchall: '1', domain: 'example.org', targets: 'alice@example.org' });
    const html = await (await c.fetch('/aliases?domain=example.org')).text();
    expect(html).toContain('alice@example.org, bob@example.net');
    expect(html).toContain('catch-all');
    expect(node.t.store.directory.listAliases('example.org').map((a) => a.address).sort()).toEqual(['*@example.org', 'sales@example.org']);
    await c.submit('/aliases', '/aliases', { address: 'x@example.org', targets: 'not an address' });
    expect(await (await c.fetch('/aliases')).text()).toContain('is not an address');
    await c.submit('/aliases', '/aliases/sales%40example.org/delete', {});
    expect(node.t.store.directory.listAliases('example.org').map((a) => a.address)).toEqual(['*@example.org']);
  });

  it('lists the queue with hostile content escaped, retries and deletes', async () => {
    const c = await admin();
    const q = queueFor(node.t.store);
    const id = q.enqueue({ accountId: null, mailFrom: '<script>alert("from")</script>@example.org', raw: Buffer.from('Subject: x\r\n\r\nbody\r\n') }, [{ rcpt: 'victim@example.net' }]);
    const rid = q.recipients(id)[0].id;
    q.record([{ id: rid, outcome: 'deferred', response: '451 <img src=x onerror=alert(1)> try later', nextAttemptAt: Date.now() + 3600_000 }]);
    const html = await (await c.fetch('/queue')).text();
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(&quot;from&quot;)&lt;/script&gt;@example.org');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    const retry = await c.submit('/queue', `/queue/${id}/retry`, {});
    expect(retry.status).toBe(303);
    expect(q.recipients(id)[0].nextAttemptAt).toBeLessThanOrEqual(Date.now());
    await c.submit('/queue', `/queue/${id}/delete`, {});
    expect(q.message(id)).toBeNull();
    expect(await (await c.fetch('/queue')).text()).toContain('The queue is empty');
  });

  it('shows a FAIL naming each database the replica holds nothing of (issue 15)', async () => {
    const status = {
      target: 'file:///replica', lagMs: 0, oldestUnshippedAt: null, databases: 3, open: 2, pendingObjects: 0, pendingBytes: 0, outboxObjects: 0, walAlarm: false,
      healthy: false, lastError: null, lastErrorAt: null, lastUploadAt: null, uploads: 4, uploadedBytes: 100, generationsStarted: 2, missing: ['mailbox-abc'],
    };
    const other = await startNode({ extra: { health: { replication: () => status } } });
    try {
      const { app } = createEdgeApp({ nodeUrl: other.url, edgeSecret: SECRET, adminPasswordHash: hash, kv: new MemoryKv(), dnsChecker: createDohChecker({ endpoint: doh.endpoint }) });
      const c = new Client(app);
      expect((await c.login()).status).toBe(303);
      const html = await (await c.fetch('/replication')).text();
      expect(badges(html)).toContain('bad:FAIL');
      expect(html).toContain('1 database(s) of this node are not in the replica, so a restore would lose them: mailbox-abc');
    } finally {
      await other.close();
    }
  });

  it('says plainly when replication is off and what to set', async () => {
    const c = await admin();
    const html = await (await c.fetch('/replication')).text();
    expect(html).toContain('Replication is off');
    expect(html).toContain('replication.url');
  });
});

describe('hostile input and failures', () => {
  it('escapes hostile text in paths, flash messages and node errors', async () => {
    const c = await admin();
    const evil = '<script>alert(1)</script>';
    const page = await c.fetch(`/domains/${encodeURIComponent(evil)}`);
    const html = await page.text();
    expect(page.status).toBe(400);
    expect(html).not.toContain(evil);
    expect(html).toContain('only letters, digits, hyphens and dots');
    // The confirmation pages render the name from the path without asking the node.
    for (const path of [`/domains/${encodeURIComponent(evil)}/delete`, `/accounts/${encodeURIComponent(evil + '@example.org')}/delete`]) {
      const confirm = await (await c.fetch(path)).text();
      expect(confirm).not.toContain(evil);
      expect(confirm).toContain(path.startsWith('/domains') ? '<h1>Remove &lt;script&gt;alert(1)&lt;/script&gt;?</h1>' : '<h1>Delete &lt;script&gt;alert(1)&lt;/script&gt;@example.org?</h1>');
    }
    await c.submit('/accounts', '/accounts', { address: `"><img src=x onerror=alert(1)>`, password: 'long enough password' });
    const after = await (await c.fetch('/accounts')).text();
    expect(after).not.toContain('<img src=x');
    expect(after).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    const nf = await (await c.fetch(`/nope/${encodeURIComponent(evil)}`)).text();
    expect(nf).not.toContain(evil);
  });

  it('says what to do when the node is unreachable or refuses the signature', async () => {
    const down = await admin({ nodeUrl: `http://127.0.0.1:${await deadPort()}` });
    const dash = await (await down.fetch('/')).text();
    expect(dash).toContain('unreachable');
    expect(dash).toContain('systemctl status haven');
    const list = await down.fetch('/domains');
    expect(list.status).toBe(502);
    expect(await list.text()).toContain('check that it is running');
    const wrong = await admin({ edgeSecret: 'a different secret of thirty-two chars or more' });
    const res = await wrong.fetch('/domains');
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('same admin secret');
  });

  it('tells an unconfigured edge what to set', async () => {
    const { app } = createEdgeApp({ kv: new MemoryKv(), sessionSecret: 'session secret only, thirty-two chars', dnsChecker: null });
    const html = await (await new Client(app).fetch('/login')).text();
    expect(html).toContain('NODE_URL is not set');
  });
});
