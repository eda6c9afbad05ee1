/**
 * The admin API through app.request(): every route, the error shape, the
 * signature refusals (and that a refused request changes nothing), hostile
 * names, and DNS records checked live against a real DNS server.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mailDnsRecords } from '../../node/dns/index.js';
import { queueFor } from '../../node/smtp/context.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { sampleMessage } from '../helpers/store.js';
import { ADDRESSES, MAIL_HOST, SECRET, makeTestApp, type TestApp } from './harness.js';

let h: TestApp;
beforeEach(() => {
  h = makeTestApp();
});
afterEach(() => h.cleanup());

const enc = encodeURIComponent;

async function json(res: Response): Promise<any> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return res.json();
}

/** Every error is {"error": "<one line>"} and nothing else. */
async function expectError(res: Response, status: number, re?: RegExp): Promise<string> {
  expect(res.status).toBe(status);
  const body = await json(res);
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error).toBe('string');
  expect(body.error).not.toContain('\n');
  if (re) expect(body.error).toMatch(re);
  return body.error;
}

describe('signatures', () => {
  const routes: [string, string][] = [
    ['GET', '/api/v1/domains'],
    ['POST', '/api/v1/domains'],
    ['DELETE', '/api/v1/domains/example.org'],
    ['GET', '/api/v1/domains/example.org/dns'],
    ['POST', '/api/v1/domains/example.org/dkim/rotate'],
    ['DELETE', '/api/v1/domains/example.org/dkim/sel1'],
    ['GET', '/api/v1/accounts'],
    ['POST', '/api/v1/accounts'],
    ['PATCH', '/api/v1/accounts/a%40example.org'],
    ['POST', '/api/v1/accounts/a%40example.org/reset-password'],
    ['DELETE', '/api/v1/accounts/a%40example.org'],
    ['GET', '/api/v1/accounts/a%40example.org/app-passwords'],
    ['POST', '/api/v1/accounts/a%40example.org/app-passwords'],
    ['DELETE', '/api/v1/accounts/a%40example.org/app-passwords/x'],
    ['GET', '/api/v1/aliases'],
    ['POST', '/api/v1/aliases'],
    ['DELETE', '/api/v1/aliases/a%40example.org'],
    ['GET', '/api/v1/queue'],
    ['POST', '/api/v1/queue/abc/retry'],
    ['DELETE', '/api/v1/queue/abc'],
    ['GET', '/api/v1/replication'],
    ['GET', '/api/v1/doctor'],
    ['GET', '/api/v1/no-such-route'],
  ];

  it('refuses every route without a signature', async () => {
    for (const [method, path] of routes) {
      const res = await h.app.request(path, { method, body: method === 'GET' ? undefined : '{}' });
      await expectError(res, 401, /missing X-Haven-Timestamp/);
    }
  });

  it('refuses forged, expired, future, replayed and tampered requests, and none of them changes anything', async () => {
    const body = JSON.stringify({ name: 'example.org' });
    const post = (headers: Record<string, string>, b = body, path = '/api/v1/domains') => h.app.request(path, { method: 'POST', headers, body: b });
    const now = Math.floor(Date.now() / 1000);

    await expectError(await post(await h.signed('POST', '/api/v1/domains', body, { secret: 'x'.repeat(40) })), 401, /signature does not match/);
    await expectError(await post(await h.signed('POST', '/api/v1/domains', body, { now: now - 301 })), 401, /stale/);
    await expectError(await post(await h.signed('POST', '/api/v1/domains', body, { now: now + 400 })), 401, /future/);
    await expectError(await post(await h.signed('POST', '/api/v1/domains', body), JSON.stringify({ name: 'evil.org' })), 401, /signature does not match/);
    await expectError(await post(await h.signed('POST', '/api/v1/domains?x=1', body)), 401, /signature does not match/);
    expect(h.t.store.directory.listDomains()).toEqual([]);

    const good = await h.signed('POST', '/api/v1/domains', body);
    expect((await post(good)).status).toBe(201);
    await expectError(await post(good), 401, /replay/);
    expect(h.t.store.directory.listDomains().map((d) => d.name)).toEqual(['example.org']);

    // A replayed delete does not run twice either (no 404 leak, no second effect).
    const del = await h.signed('DELETE', '/api/v1/domains/example.org');
    expect((await h.app.request('/api/v1/domains/example.org', { method: 'DELETE', headers: del })).status).toBe(204);
    await expectError(await h.app.request('/api/v1/domains/example.org', { method: 'DELETE', headers: del }), 401, /replay/);
  });

  it('answers 503 with advice when the node has no admin secret', async () => {
    const off = makeTestApp({ adminSecret: '' });
    try {
      await expectError(await off.call('GET', '/api/v1/domains'), 503, /admin\.secret/);
    } finally {
      off.cleanup();
    }
  });

  it('refuses bodies over the limit with 413 before verifying anything', async () => {
    const big = JSON.stringify({ name: 'a'.repeat(70 * 1024) });
    await expectError(await h.call('POST', '/api/v1/domains', big), 413, /larger than/);
  });

  it('unknown routes under /api answer JSON 404', async () => {
    await expectError(await h.call('GET', '/api/v1/no-such-route'), 404, /no such admin API route/);
    await expectError(await h.app.request('/api/v2/domains'), 404, /\/api\/v1/);
  });
});

describe('domains', () => {
  it('adds, lists with counts, refuses duplicates and bad JSON, deletes', async () => {
    const res = await h.call('POST', '/api/v1/domains', { name: 'Example.ORG' });
    expect(res.status).toBe(201);
    const created = await json(res);
    expect(created.domain).toMatchObject({ name: 'example.org', accounts: 0, aliases: 0 });
    expect(new Date(created.domain.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

    await expectError(await h.call('POST', '/api/v1/domains', { name: 'example.org' }), 409, /already exists/);
    await expectError(await h.call('POST', '/api/v1/domains', '{not json'), 400, /JSON/);
    await expectError(await h.call('POST', '/api/v1/domains', { nom: 'x.org' }), 400, /field name/);
    await expectError(await h.call('POST', '/api/v1/domains'), 400, /JSON body/);
    await expectError(await h.call('POST', '/api/v1/domains', { name: 'nodot' }), 400, /not a valid domain/);

    await h.t.store.createAccount('alice@example.org', 'correct horse battery');
    h.t.store.directory.addAlias('info@example.org', ['alice@example.org']);
    const list = await json(await h.call('GET', '/api/v1/domains'));
    expect(list.domains).toEqual([{ name: 'example.org', createdAt: created.domain.createdAt, accounts: 1, aliases: 1 }]);

    await expectError(await h.call('DELETE', '/api/v1/domains/example.org'), 409, /still has 1 account/);
    h.t.store.removeAccount('alice@example.org');
    expect((await h.call('DELETE', '/api/v1/domains/example.org')).status).toBe(204);
    await expectError(await h.call('DELETE', '/api/v1/domains/example.org'), 404, /no domain/);
    expect(h.t.store.directory.listDomains()).toEqual([]);
  });

  it('refuses HTML and script in domain names with a 400 that does not echo them', async () => {
    for (const name of ['<script>alert(1)</script>.org', 'ex"ample.org', "a.org' onmouseover='x", 'a b.org', 'exa\u0000mple.org', 'x.org/<img src=x onerror=alert(1)>']) {
      const err = await expectError(await h.call('POST', '/api/v1/domains', { name }), 400, /letters, digits, hyphens and dots/);
      expect(err).not.toMatch(/[<>"']/);
    }
    const err = await expectError(await h.call('GET', `/api/v1/domains/${enc('<b>x</b>.org')}/dns`), 400);
    expect(err).not.toContain('<');
    expect(h.t.store.directory.listDomains()).toEqual([]);
  });

  it('lists the DNS records node/dns computes, with every active DKIM key, and rotates DKIM', async () => {
    await h.call('POST', '/api/v1/domains', { name: 'example.org' });
    const { records } = await json(await h.call('GET', '/api/v1/domains/example.org/dns'));
    const key = h.t.store.directory.dkimKeys('example.org')[0];
    const expected = mailDnsRecords({ domains: [{ name: 'example.org', dkim: { selector: key.selector, publicKey: key.publicKeyDns } }], mailHost: MAIL_HOST, ...ADDRESSES, pop3: true });
    expect(records.map((r: any) => `${r.type} ${r.name}`)).toEqual(expected.map((r) => `${r.type} ${r.name}`));
    expect(records).toContainEqual(expect.objectContaining({ type: 'MX', name: 'example.org', value: MAIL_HOST, priority: 10 }));
    expect(records).toContainEqual(expect.objectContaining({ type: 'A', name: MAIL_HOST, value: ADDRESSES.ipv4 }));
    expect(records).toContainEqual(expect.objectContaining({ type: 'SRV', name: '_imaps._tcp.example.org', value: `1 993 ${MAIL_HOST}`, priority: 0 }));
    expect(records).toContainEqual(expect.objectContaining({ type: 'CAA', name: 'example.org', value: '0 issue "letsencrypt.org"' }));
    // The two records infra used to add on its own, now on the node's list too: SPF for the HELO name (RFC 7208
    // §2.3: bounces are checked against it) and ManageSieve's SRV (RFC 5804 §1.8, the node listens on 4190).
    expect(records).toContainEqual(expect.objectContaining({ type: 'TXT', name: MAIL_HOST, value: `v=spf1 ip4:${ADDRESSES.ipv4} ip6:${ADDRESSES.ipv6} -all` }));
    expect(records).toContainEqual(expect.objectContaining({ type: 'SRV', name: '_sieve._tcp.example.org', value: `1 4190 ${MAIL_HOST}`, priority: 0 }));
    const dkim = records.find((r: any) => r.name === `${key.selector}._domainkey.example.org`);
    expect(dkim.value).toBe(`v=DKIM1; k=rsa; p=${key.publicKeyDns}`);
    for (const r of records) {
      expect(typeof r.purpose).toBe('string');
      expect(r).not.toHaveProperty('live');
    }

    const rot = await json(await h.call('POST', '/api/v1/domains/example.org/dkim/rotate'));
    expect(rot.selector).toMatch(/^haven\d{14}$/);
    const newKey = h.t.store.directory.dkimKeys('example.org').find((k) => k.selector === rot.selector)!;
    expect(rot.record).toEqual({ type: 'TXT', name: `${rot.selector}._domainkey.example.org`, value: `v=DKIM1; k=rsa; p=${newKey.publicKeyDns}` });
    const rot2 = await json(await h.call('POST', '/api/v1/domains/example.org/dkim/rotate'));
    expect(rot2.selector).not.toBe(rot.selector);
    const after = (await json(await h.call('GET', '/api/v1/domains/example.org/dns'))).records;
    const selectors = after.filter((r: any) => r.name.includes('._domainkey.')).map((r: any) => r.name.split('.')[0]).sort();
    expect(selectors).toEqual([key.selector, rot.selector, rot2.selector].sort());

    // Retiring: the old key leaves the records; the last active key cannot go.
    expect((await h.call('DELETE', `/api/v1/domains/example.org/dkim/${key.selector}`)).status).toBe(204);
    expect(h.t.store.directory.dkimKeys('example.org').map((k) => k.selector).sort()).toEqual([rot.selector, rot2.selector].sort());
    await expectError(await h.call('DELETE', `/api/v1/domains/example.org/dkim/${key.selector}`), 404, /no active DKIM key/);
    expect((await h.call('DELETE', `/api/v1/domains/example.org/dkim/${rot.selector}`)).status).toBe(204);
    await expectError(await h.call('DELETE', `/api/v1/domains/example.org/dkim/${rot2.selector}`), 409, /only active DKIM key/);

    await expectError(await h.call('GET', '/api/v1/domains/nope.org/dns'), 404, /no domain nope\.org/);
    await expectError(await h.call('POST', '/api/v1/domains/nope.org/dkim/rotate'), 404);
  });

  it('with a relay in spfExtra, lists the SPF record infra publishes and sees it live', async () => {
    const dns: TestDns = await startTestDns();
    const local = makeTestApp();
    const relay = makeTestApp({ resolver: dns.resolver, config: { ...local.config, spfExtra: ['include:spf.relay.example'] } });
    try {
      await relay.call('POST', '/api/v1/domains', { name: 'example.org' });
      // infra's SPF record for the same stack (test/infra/program.test.ts asserts this text for haven:spfExtra).
      const published = `v=spf1 ip4:${ADDRESSES.ipv4} ip6:${ADDRESSES.ipv6} include:spf.relay.example -all`;
      let { records } = await json(await relay.call('GET', '/api/v1/domains/example.org/dns'));
      expect(records.filter((r: any) => r.type === 'TXT' && r.name === 'example.org')).toEqual([expect.objectContaining({ value: published })]);
      // DNS still holding the record without the relay is not live; infra's record is.
      dns.add('example.org', { TXT: [`v=spf1 ip4:${ADDRESSES.ipv4} ip6:${ADDRESSES.ipv6} -all`] });
      ({ records } = await json(await relay.call('GET', '/api/v1/domains/example.org/dns?live=1')));
      expect(records.find((r: any) => r.type === 'TXT' && r.name === 'example.org').live).toBe(false);
      dns.set('example.org', { TXT: [published] });
      ({ records } = await json(await relay.call('GET', '/api/v1/domains/example.org/dns?live=1')));
      expect(records.find((r: any) => r.type === 'TXT' && r.name === 'example.org').live).toBe(true);
    } finally {
      relay.cleanup();
      local.cleanup();
      await dns.close();
    }
  });

  it('with dmarcPolicy reject, lists the DMARC record infra publishes and sees it live', async () => {
    const dns: TestDns = await startTestDns();
    const local = makeTestApp();
    const strict = makeTestApp({ resolver: dns.resolver, config: { ...local.config, dmarcPolicy: 'reject' } });
    const dflt = makeTestApp({ resolver: dns.resolver });
    try {
      for (const app of [strict, dflt]) await app.call('POST', '/api/v1/domains', { name: 'example.org' });
      // infra's DMARC record for haven:dmarcPolicy reject (test/infra/program.test.ts checks the node and infra agree).
      const published = 'v=DMARC1; p=reject; rua=mailto:postmaster@example.org; adkim=s; aspf=s';
      const dmarc = (records: any[]) => records.filter((r: any) => r.type === 'TXT' && r.name === '_dmarc.example.org');
      let { records } = await json(await strict.call('GET', '/api/v1/domains/example.org/dns'));
      expect(dmarc(records)).toEqual([expect.objectContaining({ value: published })]);
      // DNS still holding the default policy is not live for the node configured with reject.
      dns.add('_dmarc.example.org', { TXT: [published.replace('p=reject', 'p=quarantine')] });
      ({ records } = await json(await strict.call('GET', '/api/v1/domains/example.org/dns?live=1')));
      expect(dmarc(records).map((r: any) => r.live)).toEqual([false]);
      dns.set('_dmarc.example.org', { TXT: [published] });
      ({ records } = await json(await strict.call('GET', '/api/v1/domains/example.org/dns?live=1')));
      expect(dmarc(records).map((r: any) => r.live)).toEqual([true]);
      // A node left at the default expects quarantine, so the same answer is not live for it.
      ({ records } = await json(await dflt.call('GET', '/api/v1/domains/example.org/dns?live=1')));
      expect(dmarc(records)).toEqual([expect.objectContaining({ value: published.replace('p=reject', 'p=quarantine'), live: false })]);
    } finally {
      strict.cleanup();
      dflt.cleanup();
      local.cleanup();
      await dns.close();
    }
  });

  it('says what to fix when the node has no public hostname', async () => {
    // A local run: hostname localhost.
    const local = makeTestApp();
    const app2 = makeTestApp({ config: { ...local.config, hostname: 'localhost' } });
    try {
      await app2.call('POST', '/api/v1/domains', { name: 'example.org' });
      await expectError(await app2.call('GET', '/api/v1/domains/example.org/dns'), 409, /fully qualified host name.*mail\.example\.com/);
    } finally {
      app2.cleanup();
      local.cleanup();
    }
  });

  it('marks each record live or not from what a real DNS server answers', async () => {
    const dns: TestDns = await startTestDns();
    const live = makeTestApp({ resolver: dns.resolver });
    try {
      await live.call('POST', '/api/v1/domains', { name: 'example.org' });
      const key = live.t.store.directory.dkimKeys('example.org')[0];
      dns.add('example.org', { MX: [{ exchange: MAIL_HOST, priority: 10 }], TXT: [`v=spf1 ip4:${ADDRESSES.ipv4} ip6:${ADDRESSES.ipv6} -all`] });
      dns.add(MAIL_HOST, { A: [ADDRESSES.ipv4] });
      dns.add(`${key.selector}._domainkey.example.org`, { TXT: [`v=DKIM1; k=rsa; p=${key.publicKeyDns}`] });
      dns.add('_dmarc.example.org', { TXT: ['v=DMARC1; p=none'] });
      const { records } = await json(await live.call('GET', '/api/v1/domains/example.org/dns?live=1'));
      const byKey = Object.fromEntries(records.map((r: any) => [`${r.type} ${r.name}`, r.live]));
      expect(byKey['MX example.org']).toBe(true);
      expect(byKey['TXT example.org']).toBe(true);
      expect(byKey[`A ${MAIL_HOST}`]).toBe(true);
      expect(byKey[`AAAA ${MAIL_HOST}`]).toBe(false);
      expect(byKey[`TXT ${key.selector}._domainkey.example.org`]).toBe(true);
      // Published, but not the value Haven wants: not live.
      expect(byKey['TXT _dmarc.example.org']).toBe(false);
      expect(byKey['TXT _mta-sts.example.org']).toBe(false);
      expect(records.every((r: any) => typeof r.live === 'boolean')).toBe(true);
    } finally {
      live.cleanup();
      await dns.close();
    }
  });

  it('finds its public addresses on its interfaces, then from the mail host A/AAAA records', async () => {
    const dns: TestDns = await startTestDns();
    let iface: { ipv4?: string; ipv6?: string } = {};
    const bare = makeTestApp({ resolver: dns.resolver, publicAddresses: undefined, interfaceAddresses: () => iface });
    try {
      await bare.call('POST', '/api/v1/domains', { name: 'example.org' });
      await expectError(await bare.call('GET', '/api/v1/domains/example.org/dns'), 409, /public IPv4 and IPv6 address.*no A and AAAA record/);
      dns.add(MAIL_HOST, { A: ['198.51.100.7'] });
      await expectError(await bare.call('GET', '/api/v1/domains/example.org/dns'), 409, /public IPv6 address.*no AAAA record/);
      dns.add(MAIL_HOST, { AAAA: ['2001:db8::7'] });
      let { records } = await json(await bare.call('GET', '/api/v1/domains/example.org/dns'));
      expect(records).toContainEqual(expect.objectContaining({ type: 'A', name: MAIL_HOST, value: '198.51.100.7' }));
      expect(records).toContainEqual(expect.objectContaining({ type: 'AAAA', name: MAIL_HOST, value: '2001:db8::7' }));
      // Interfaces win over DNS (the records are for publishing, so DNS may still be stale).
      iface = { ipv4: '203.0.113.5', ipv6: '2001:db8:5::1' };
      ({ records } = await json(await bare.call('GET', '/api/v1/domains/example.org/dns')));
      expect(records).toContainEqual(expect.objectContaining({ type: 'A', name: MAIL_HOST, value: '203.0.113.5' }));
      expect(records).toContainEqual(expect.objectContaining({ type: 'TXT', name: 'example.org', value: 'v=spf1 ip4:203.0.113.5 ip6:2001:db8:5::1 -all' }));
    } finally {
      bare.cleanup();
      await dns.close();
    }
  });
});

describe('accounts and app passwords', () => {
  beforeEach(async () => {
    expect((await h.call('POST', '/api/v1/domains', { name: 'example.org' })).status).toBe(201);
  });

  it('creates an account showing the recovery key once, lists, sets quota, deletes', async () => {
    const res = await h.call('POST', '/api/v1/accounts', { address: 'Alice@Example.org', password: 'correct horse battery', quotaBytes: 1000000 });
    expect(res.status).toBe(201);
    const created = await json(res);
    expect(created.address).toBe('alice@example.org');
    expect(typeof created.recoveryKey).toBe('string');
    expect(created.recoveryKey.length).toBeGreaterThan(20);
    // The recovery key opens the mailbox: it is the real one.
    (await h.t.store.authenticate('alice@example.org', 'correct horse battery')).release();

    const list = await json(await h.call('GET', '/api/v1/accounts?domain=example.org'));
    expect(list.accounts).toEqual([{ address: 'alice@example.org', createdAt: expect.any(String), quotaBytes: 1000000, usedBytes: expect.any(Number), keyMode: 'zero-access' }]);
    expect(JSON.stringify(list)).not.toContain(created.recoveryKey);
    await expectError(await h.call('GET', '/api/v1/accounts?domain=other.org'), 404);

    await expectError(await h.call('POST', '/api/v1/accounts', { address: 'alice@example.org', password: 'correct horse battery' }), 409, /already exists/);
    await expectError(await h.call('POST', '/api/v1/accounts', { address: 'bob@example.org', password: 'short' }), 400, /at least 12/);
    await expectError(await h.call('POST', '/api/v1/accounts', { address: 'bob@nope.org', password: 'correct horse battery' }), 404, /no domain nope\.org/);
    await expectError(await h.call('POST', '/api/v1/accounts', { address: 'bob@example.org', password: 'correct horse battery', quotaBytes: -1 }), 400, /quotaBytes/);

    const patched = await json(await h.call('PATCH', `/api/v1/accounts/${enc('alice@example.org')}`, { quotaBytes: 5 }));
    expect(patched).toEqual({ address: 'alice@example.org', quotaBytes: 5 });
    expect(h.t.store.directory.getAccount('alice@example.org')!.quotaBytes).toBe(5);
    await expectError(await h.call('PATCH', `/api/v1/accounts/${enc('nobody@example.org')}`, { quotaBytes: 5 }), 404);

    expect((await h.call('DELETE', `/api/v1/accounts/${enc('alice@example.org')}`)).status).toBe(204);
    expect(h.t.store.directory.getAccount('alice@example.org')).toBeNull();
    await expectError(await h.call('DELETE', `/api/v1/accounts/${enc('alice@example.org')}`), 404);
  });

  it('reset-password in zero-access mode says plainly that the old mail is set aside, and gives a new recovery key', async () => {
    await h.call('POST', '/api/v1/accounts', { address: 'alice@example.org', password: 'correct horse battery' });
    const acct = h.t.store.directory.getAccount('alice@example.org')!;
    await h.t.store.deliver(acct.id, sampleMessage());
    const res = await json(await h.call('POST', `/api/v1/accounts/${enc('alice@example.org')}/reset-password`, { password: 'a brand new password' }));
    expect(res.keptMail).toBe(false);
    expect(res.recoveryKey).toEqual(expect.any(String));
    expect(res.warning).toMatch(/EMPTY mailbox/);
    expect(res.warning).toMatch(/set aside/);
    const lease = await h.t.store.authenticate('alice@example.org', 'a brand new password');
    expect(lease.mailbox.folders.status(lease.mailbox.folders.require('INBOX').id).messages).toBe(0);
    lease.release();
    await expectError(await h.call('POST', `/api/v1/accounts/${enc('alice@example.org')}/reset-password`, { password: 'short' }), 400, /at least 12/);
  });

  it('reset-password in managed mode keeps the mail and says so', async () => {
    const m = makeTestApp({}, { keyMode: 'managed' });
    try {
      await m.call('POST', '/api/v1/domains', { name: 'example.org' });
      await m.call('POST', '/api/v1/accounts', { address: 'alice@example.org', password: 'correct horse battery' });
      const res = await json(await m.call('POST', `/api/v1/accounts/${enc('alice@example.org')}/reset-password`, { password: 'a brand new password' }));
      expect(res).toMatchObject({ keptMail: true, recoveryKey: null });
      expect(res.warning).toMatch(/managed mode, so all mail stays/);
    } finally {
      m.cleanup();
    }
  });

  it('app passwords: created with the account password, listed without the secret, revoked', async () => {
    await h.call('POST', '/api/v1/accounts', { address: 'alice@example.org', password: 'correct horse battery' });
    const path = `/api/v1/accounts/${enc('alice@example.org')}/app-passwords`;
    await expectError(await h.call('POST', path, { name: 'phone', password: 'wrong password!' }), 403, /password is wrong/);
    const res = await h.call('POST', path, { name: 'phone', password: 'correct horse battery' });
    expect(res.status).toBe(201);
    const app = await json(res);
    expect(app).toEqual({ id: expect.any(String), name: 'phone', password: expect.any(String) });
    (await h.t.store.authenticate('alice@example.org', app.password)).release();

    const list = await json(await h.call('GET', path));
    expect(list.appPasswords).toEqual([{ id: app.id, name: 'phone', createdAt: expect.any(String), lastUsedAt: expect.any(String) }]);
    expect(JSON.stringify(list)).not.toContain(app.password);
    await expectError(await h.call('POST', path, { name: '<script>x</script>', password: 'correct horse battery' }), 400, /plain label/);

    expect((await h.call('DELETE', `${path}/${app.id}`)).status).toBe(204);
    await expect(h.t.store.authenticate('alice@example.org', app.password)).rejects.toThrow();
    await expectError(await h.call('DELETE', `${path}/${app.id}`), 404, /no app password/);
    await expectError(await h.call('GET', `/api/v1/accounts/${enc('nobody@example.org')}/app-passwords`), 404);
  });

  it('refuses markup in addresses without echoing it', async () => {
    for (const address of ['<script>alert(1)</script>@example.org', '"x"@example.org', 'a b@example.org']) {
      const err = await expectError(await h.call('POST', '/api/v1/accounts', { address, password: 'correct horse battery' }), 400, /may not contain/);
      expect(err).not.toMatch(/[<>"]/);
    }
    await expectError(await h.call('DELETE', `/api/v1/accounts/${enc('<img src=x>@example.org')}`), 400, /may not contain/);
    expect(h.t.store.directory.listAccounts()).toEqual([]);
  });
});

describe('aliases', () => {
  beforeEach(async () => {
    await h.call('POST', '/api/v1/domains', { name: 'example.org' });
  });

  it('adds aliases and a catch-all, lists by domain, deletes', async () => {
    const res = await h.call('POST', '/api/v1/aliases', { address: 'Info@example.org', targets: ['alice@example.org', 'Bob@Elsewhere.net'] });
    expect(res.status).toBe(201);
    expect(await json(res)).toEqual({ address: 'info@example.org', targets: ['alice@example.org', 'bob@elsewhere.net'] });
    expect((await h.call('POST', '/api/v1/aliases', { address: '*@example.org', targets: ['alice@example.org'] })).status).toBe(201);
    await expectError(await h.call('POST', '/api/v1/aliases', { address: 'info@example.org', targets: ['x@example.org'] }), 409, /already exists/);
    await expectError(await h.call('POST', '/api/v1/aliases', { address: 'x@example.org', targets: [] }), 400, /targets/);
    await expectError(await h.call('POST', '/api/v1/aliases', { address: 'x@nope.org', targets: ['a@b.org'] }), 404);

    const list = await json(await h.call('GET', '/api/v1/aliases?domain=example.org'));
    expect(list.aliases).toEqual([
      { address: '*@example.org', targets: ['alice@example.org'] },
      { address: 'info@example.org', targets: ['alice@example.org', 'bob@elsewhere.net'] },
    ]);
    expect(h.t.store.directory.resolve('anything@example.org')).toMatchObject({ kind: 'alias' });

    expect((await h.call('DELETE', `/api/v1/aliases/${enc('*@example.org')}`)).status).toBe(204);
    expect((await h.call('DELETE', `/api/v1/aliases/${enc('info@example.org')}`)).status).toBe(204);
    await expectError(await h.call('DELETE', `/api/v1/aliases/${enc('info@example.org')}`), 404, /no alias/);
    expect((await json(await h.call('GET', '/api/v1/aliases'))).aliases).toEqual([]);
  });

  it('refuses HTML in alias addresses and targets with a clear 400', async () => {
    for (const body of [
      { address: '<img src=x onerror=alert(1)>@example.org', targets: ['alice@example.org'] },
      { address: 'info@example.org', targets: ['<script>@example.org'] },
      { address: 'info@<b>example</b>.org', targets: ['alice@example.org'] },
    ]) {
      const err = await expectError(await h.call('POST', '/api/v1/aliases', body), 400, /may not contain/);
      expect(err).not.toMatch(/[<>]/);
    }
    expect(h.t.store.directory.listAliases()).toEqual([]);
  });
});

describe('queue, replication, doctor', () => {
  it('lists queued messages with per-recipient state, retries and deletes them', async () => {
    const q = queueFor(h.t.store);
    const id = q.enqueue({ accountId: null, mailFrom: 'alice@example.org', raw: sampleMessage() }, [{ rcpt: 'bob@remote.test' }, { rcpt: 'carol@remote.test' }]);
    const [r1, r2] = q.recipients(id);
    q.record([
      { id: r1.id, outcome: 'deferred', response: '451 4.7.1 try later', nextAttemptAt: Date.now() + 3_600_000 },
      { id: r2.id, outcome: 'failed', response: '550 5.1.1 no such user' },
    ]);
    const { messages } = await json(await h.call('GET', '/api/v1/queue'));
    expect(messages).toEqual([
      {
        id,
        from: 'alice@example.org',
        createdAt: expect.any(String),
        size: sampleMessage().length,
        recipients: [
          { address: 'bob@remote.test', state: 'queued', attempts: 1, nextAttemptAt: expect.any(String), lastError: '451 4.7.1 try later' },
          { address: 'carol@remote.test', state: 'failed', attempts: 1, nextAttemptAt: null, lastError: '550 5.1.1 no such user' },
        ],
      },
    ]);
    expect(await json(await h.call('POST', `/api/v1/queue/${id}/retry`))).toEqual({ id, retrying: 1 });
    expect(q.due().map((r) => r.id)).toEqual([r1.id]);
    await expectError(await h.call('POST', '/api/v1/queue/UPPER/retry'), 400, /queue id/);
    await expectError(await h.call('POST', '/api/v1/queue/abc123/retry'), 404, /no queued message/);
    expect((await h.call('DELETE', `/api/v1/queue/${id}`)).status).toBe(204);
    expect(q.message(id)).toBeNull();
    await expectError(await h.call('DELETE', `/api/v1/queue/${id}`), 404);
  });

  it('reports replication as off when it is not configured, and runs node/doctor (saying what is missing first)', async () => {
    expect(await json(await h.call('GET', '/api/v1/replication'))).toEqual({ enabled: false, target: null, lagSeconds: null, databases: 0, lastShippedAt: null, errors: [] });
    await expectError(await h.call('GET', '/api/v1/doctor'), 409, /no mail domains yet/);
  });

  it('names databases the replica holds nothing of, and is then unhealthy (issue 15: the admin UI shows a FAIL)', async () => {
    const status = {
      target: 'file:///replica', lagMs: 0, oldestUnshippedAt: null, databases: 3, open: 2, pendingObjects: 0, pendingBytes: 0, outboxObjects: 0, walAlarm: false,
      healthy: false, lastError: null, lastErrorAt: null, lastUploadAt: null, uploads: 4, uploadedBytes: 100, generationsStarted: 2, missing: ['mailbox-abc'],
    };
    const d = makeTestApp({ health: { replication: () => status } });
    try {
      expect(await json(await d.call('GET', '/api/v1/replication'))).toMatchObject({ enabled: true, healthy: false, missing: ['mailbox-abc'], databases: 3 });
    } finally {
      d.cleanup();
    }
  });

  it('serves the doctor report when one is wired', async () => {
    const d = makeTestApp({ doctor: async () => ({ checks: [{ name: 'mx', status: 'OK' }] }) });
    try {
      expect(await json(await d.call('GET', '/api/v1/doctor'))).toEqual({ checks: [{ name: 'mx', status: 'OK' }] });
    } finally {
      d.cleanup();
    }
  });
});
