/**
 * @module test/tls/acme-dns01
 * ACME DNS-01 through the Cloudflare API against a real CA (Pebble): the
 * solver finds the zone, creates the _acme-challenge TXT records through a
 * local HTTP server speaking the Cloudflare API (which publishes them in
 * pebble-challtestsrv's DNS, where Pebble validates), waits until its
 * resolver sees them, and deletes them afterwards. Token and zone faults
 * come back as CertificateErrors that say what to fix.
 */
import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { AcmeManager, CertificateError, CloudflareDns, CloudflareDns01Solver, createSelfSignedCertificate, CertificateStore, openCertificateStore } from '../../node/tls/index.js';
import { startFakeCloudflare, type FakeCloudflare } from './cloudflare-api.js';
import { startPebble, type Pebble } from './pebble.js';

const TOKEN = 'cf-test-token';
const dir = mkdtempSync(join(tmpdir(), 'haven-acme-dns-'));
let pebble: Pebble;
let cf: FakeCloudflare;
let resolver: Resolver;

beforeAll(async () => {
  // dns-01 never reaches an HTTP server; port 9 (discard) makes an accidental http-01 attempt fail loudly.
  pebble = await startPebble(9);
  cf = await startFakeCloudflare({ token: TOKEN, zones: { 'haven.test': 'zone-haven', 'other.test': 'zone-other' }, challtestsrvUrl: pebble.challtestsrvUrl });
  resolver = new Resolver();
  resolver.setServers([`${pebble.dns.host}:${pebble.dns.port}`]);
});

afterAll(async () => {
  await cf?.close();
  pebble?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Cloudflare DNS client', () => {
  it('finds the longest zone that holds a name, creates, lists and deletes TXT records', async () => {
    const api = new CloudflareDns({ token: TOKEN, apiBase: cf.apiBase });
    expect(await api.zoneFor('_acme-challenge.deep.mail.haven.test')).toEqual({ id: 'zone-haven', name: 'haven.test' });
    const rec = await api.createTxt('zone-haven', '_acme-challenge.x.haven.test', 'v1');
    expect((await api.listRecords('zone-haven', { type: 'TXT', name: '_acme-challenge.x.haven.test' })).map((r) => r.content)).toEqual(['v1']);
    // Published where Pebble looks.
    expect(await resolver.resolveTxt('_acme-challenge.x.haven.test')).toEqual([['v1']]);
    await api.deleteRecord('zone-haven', rec.id);
    expect(await api.listRecords('zone-haven', { name: '_acme-challenge.x.haven.test' })).toEqual([]);
    expect(cf.requests.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('a name in no zone, a bad token and a missing token are errors that say what to fix', async () => {
    await expect(new CloudflareDns({ token: TOKEN, apiBase: cf.apiBase }).zoneFor('mail.nowhere.test')).rejects.toThrow(/no Cloudflare zone holds mail\.nowhere\.test: add the domain/);
    const bad = new CloudflareDns({ token: 'wrong', apiBase: cf.apiBase });
    await expect(bad.zoneFor('mail.haven.test')).rejects.toThrow(/9109 Invalid access token; give tls\.acme\.cloudflareToken the Zone\.DNS:Edit permission/);
    expect(() => new CloudflareDns({ token: '' })).toThrow(CertificateError);
  });
});

describe('ACME dns-01 against Pebble', () => {
  it('issues for every name through TXT records it removes afterwards', async () => {
    const local = await createSelfSignedCertificate();
    const store = new CertificateStore(local.certPem, local.keyPem);
    const solver = new CloudflareDns01Solver(new CloudflareDns({ token: TOKEN, apiBase: cf.apiBase }), { resolver, intervalMs: 50 });
    const manager = new AcmeManager({ directoryUrl: pebble.directoryUrl, directoryCa: pebble.tlsCa, domains: ['mail.haven.test', 'haven.test'], dir: join(dir, 'a'), solver, renewDaysBefore: 30, pollMs: 50 }, store);
    const before = cf.requests.length;
    expect(await manager.renewIfDue()).toBe('issued');
    expect(store.info.selfSigned).toBe(false);
    expect(store.info.subjectAltName).toContain('DNS:mail.haven.test');
    expect(store.info.subjectAltName).toContain('DNS:haven.test');
    const calls = cf.requests.slice(before);
    const created = calls.filter((r) => r.method === 'POST').map((r) => (r.body as { name: string }).name);
    expect(created.sort()).toEqual(['_acme-challenge.haven.test', '_acme-challenge.mail.haven.test']);
    expect(calls.filter((r) => r.method === 'DELETE')).toHaveLength(2);
    expect(cf.records.size).toBe(0);
    // The stored chain leads to Pebble's root.
    const chain = manager.current()!.certPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.map((p) => new X509Certificate(p));
    const root = new X509Certificate(await pebble.issuerRoot());
    expect(chain[0].fingerprint256).toBe(store.info.fingerprint256);
    expect(chain[0].verify(chain[1].publicKey)).toBe(true);
    expect(chain[chain.length - 1].verify(root.publicKey)).toBe(true);
    store.close();
  });

  it('a zone the token cannot reach fails the order with the fix; the current certificate stays', async () => {
    const local = await createSelfSignedCertificate();
    const store = new CertificateStore(local.certPem, local.keyPem);
    const solver = new CloudflareDns01Solver(new CloudflareDns({ token: TOKEN, apiBase: cf.apiBase }), { resolver, intervalMs: 50 });
    const manager = new AcmeManager({ directoryUrl: pebble.directoryUrl, directoryCa: pebble.tlsCa, domains: ['mail.elsewhere.test'], dir: join(dir, 'b'), solver, renewDaysBefore: 30, pollMs: 50 }, store);
    await expect(manager.renewIfDue()).rejects.toThrow(/no Cloudflare zone holds _acme-challenge\.mail\.elsewhere\.test/);
    expect(store.info.selfSigned).toBe(true);
    store.close();
  });

  it('openCertificateStore with tls.acme.challenge dns-01 uses the Cloudflare token from the config', async () => {
    const config = testConfig(join(dir, 'node'), {
      hostname: 'node.other.test',
      tls: { acme: { enabled: true, directoryUrl: pebble.directoryUrl, challenge: 'dns-01', cloudflareToken: TOKEN } },
    });
    const opened = await openCertificateStore(config, { acmeDirectoryCa: pebble.tlsCa, acmePollMs: 50, cloudflareApiBase: cf.apiBase, dns01: { resolver, intervalMs: 50 } });
    expect(opened.source).toBe('self-signed');
    expect(await opened.acme!.renewIfDue()).toBe('issued');
    expect(opened.store.certificate.checkHost('node.other.test')).toBe('node.other.test');
    expect(cf.requests.some((r) => r.method === 'POST' && (r.body as { name: string }).name === '_acme-challenge.node.other.test' && r.path === '/client/v4/zones/zone-other/dns_records')).toBe(true);
    opened.store.close();
  });
});
