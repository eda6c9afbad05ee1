/**
 * Mail client set-up served by the edge, checked against what the node's DNS
 * records promise: the MTA-STS policy hashes to the _mta-sts TXT id and names
 * the MX; Thunderbird autoconfig, Outlook autodiscover and the Apple profile
 * name the host and ports of the SRV records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp, MemoryKv } from '../../edge/index.js';
import { mtaStsPolicyId } from '../../node/dns/index.js';
import { Client, deadPort, MAIL_HOST, passwordHash, SECRET, startNode, type RunningNode } from './harness.js';

interface Rec {
  type: string;
  name: string;
  value: string;
  priority?: number;
}

let node: RunningNode;
let records: Rec[];
let hash: string;

beforeAll(async () => {
  node = await startNode();
  hash = await passwordHash();
  node.t.store.directory.addDomain('example.org');
  node.t.store.directory.addDomain('example.net');
  const res = await node.call('GET', '/api/v1/domains/example.org/dns');
  records = ((await res.json()) as { records: Rec[] }).records;
});
afterAll(() => node.close());

function edge(extra: Partial<Parameters<typeof createEdgeApp>[0]> = {}) {
  return createEdgeApp({ nodeUrl: node.url, edgeSecret: SECRET, adminPasswordHash: hash, kv: new MemoryKv(), dnsChecker: null, mailHost: MAIL_HOST, ...extra }).app;
}

/** The SRV record for a service: [port, target]. */
function srv(service: string): [number, string] {
  const r = records.find((x) => x.type === 'SRV' && x.name === `${service}.example.org`)!;
  const [, port, target] = r.value.split(' ');
  return [Number(port), target];
}

function tag(xml: string, block: RegExp, name: string): string {
  const b = block.exec(xml)?.[0] ?? '';
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(b)?.[1] ?? '';
}

describe('MTA-STS', () => {
  it('serves the policy the _mta-sts TXT id is the hash of, naming the MX host', async () => {
    const res = await edge().request('https://mta-sts.example.org/.well-known/mta-sts.txt');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const policy = await res.text();
    const txt = records.find((r) => r.name === '_mta-sts.example.org')!;
    expect(txt.value).toBe(`v=STSv1; id=${mtaStsPolicyId(policy)}`);
    const mx = records.find((r) => r.type === 'MX' && r.name === 'example.org')!;
    expect(policy).toBe(`version: STSv1\r\nmode: enforce\r\nmx: ${mx.value}\r\nmax_age: 604800\r\n`);
    // mta-sts.<domain> points where the edge answers.
    expect(records.find((r) => r.name === 'mta-sts.example.org')?.type).toBe('CNAME');
  });

  it('answers only for served domains, and only set-up paths on set-up hosts', async () => {
    const app = edge();
    const other = await app.request('https://mta-sts.stranger.example/.well-known/mta-sts.txt');
    expect(other.status).toBe(404);
    expect(await other.text()).toContain('not a mail domain of this server');
    for (const path of ['/', '/login', '/domains', '/status']) expect((await app.request(`https://mta-sts.example.org${path}`)).status).toBe(404);
    // With MAIL_DOMAINS the node is not asked at all, so the policy survives a node outage.
    const offline = edge({ nodeUrl: `http://127.0.0.1:${await deadPort()}`, mailDomains: ['example.org'] });
    expect((await offline.request('https://mta-sts.example.org/.well-known/mta-sts.txt')).status).toBe(200);
    const unsure = edge({ nodeUrl: `http://127.0.0.1:${await deadPort()}` });
    const r = await unsure.request('https://mta-sts.example.org/.well-known/mta-sts.txt');
    expect(r.status).toBe(503);
    expect(await r.text()).toContain('set MAIL_DOMAINS');
  });
});

describe('Thunderbird autoconfig', () => {
  it('names the host, ports and TLS the SRV records publish, on both lookup URLs', async () => {
    const app = edge();
    for (const url of [
      'https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=alice%40example.org',
      'https://example.org/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.org',
    ]) {
      const res = await app.request(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
      const xml = await res.text();
      expect(xml).toContain('<emailProvider id="example.org">');
      const imap = /<incomingServer type="imap">[\s\S]*?<\/incomingServer>/;
      const pop3 = /<incomingServer type="pop3">[\s\S]*?<\/incomingServer>/;
      const smtps = /<outgoingServer type="smtp">(?:(?!<\/outgoingServer>)[\s\S])*?<socketType>SSL[\s\S]*?<\/outgoingServer>/;
      const starttls = /<outgoingServer type="smtp">(?:(?!<\/outgoingServer>)[\s\S])*?<socketType>STARTTLS[\s\S]*?<\/outgoingServer>/;
      for (const [block, service, socket] of [
        [imap, '_imaps._tcp', 'SSL'],
        [pop3, '_pop3s._tcp', 'SSL'],
        [smtps, '_submissions._tcp', 'SSL'],
        [starttls, '_submission._tcp', 'STARTTLS'],
      ] as const) {
        const [port, target] = srv(service);
        expect(tag(xml, block, 'hostname')).toBe(target);
        expect(Number(tag(xml, block, 'port'))).toBe(port);
        expect(tag(xml, block, 'socketType')).toBe(socket);
        expect(tag(xml, block, 'username')).toBe('%EMAILADDRESS%');
      }
      const [davPort, davHost] = srv('_caldavs._tcp');
      expect(davPort).toBe(443);
      expect(xml).toContain(`<serverURL>https://${davHost}/.well-known/caldav</serverURL>`);
      expect(xml).toContain(`<serverURL>https://${davHost}/.well-known/carddav</serverURL>`);
      // Plain IMAP is not offered (SRV port 0) and autoconfig does not offer it either.
      expect(srv('_imap._tcp')[0]).toBe(0);
      expect(xml).not.toMatch(/<socketType>plain<\/socketType>/);
    }
  });

  it('leaves POP3 out when the node has none, refuses strangers and missing addresses', async () => {
    const noPop = await (await edge({ pop3: false }).request('https://autoconfig.example.org/mail/config-v1.1.xml')).text();
    expect(noPop).not.toContain('type="pop3"');
    expect((await edge().request('https://autoconfig.stranger.example/mail/config-v1.1.xml')).status).toBe(404);
    const bare = await edge().request('https://example.org/.well-known/autoconfig/mail/config-v1.1.xml');
    expect(bare.status).toBe(404);
    expect(await bare.text()).toContain('emailaddress=');
  });
});

describe('Outlook autodiscover', () => {
  const body = (address: string) =>
    `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${address}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`;

  it('answers IMAP and SMTP settings matching the SRV records', async () => {
    const res = await edge().request('https://autodiscover.example.org/autodiscover/autodiscover.xml', { method: 'POST', body: body('alice@example.org'), headers: { 'content-type': 'text/xml' } });
    expect(res.status).toBe(200);
    const xml = await res.text();
    const imap = /<Protocol>\s*<Type>IMAP<\/Type>[\s\S]*?<\/Protocol>/;
    const smtp = /<Protocol>\s*<Type>SMTP<\/Type>[\s\S]*?<\/Protocol>/;
    expect(tag(xml, imap, 'Server')).toBe(srv('_imaps._tcp')[1]);
    expect(Number(tag(xml, imap, 'Port'))).toBe(srv('_imaps._tcp')[0]);
    expect(Number(tag(xml, smtp, 'Port'))).toBe(srv('_submissions._tcp')[0]);
    expect(tag(xml, imap, 'SSL')).toBe('on');
    expect(tag(xml, imap, 'LoginName')).toBe('alice@example.org');
    // Outlook capitalises the path on some versions.
    const caps = await edge().request('https://autodiscover.example.org/Autodiscover/Autodiscover.xml', { method: 'POST', body: body('alice@example.org') });
    expect(tag(await caps.text(), imap, 'Port')).toBe(String(srv('_imaps._tcp')[0]));
    const stranger = await (await edge().request('https://autodiscover.example.org/autodiscover/autodiscover.xml', { method: 'POST', body: body('x@stranger.example') })).text();
    expect(stranger).toContain('<ErrorCode>600</ErrorCode>');
    const hostile = await (await edge().request('https://autodiscover.example.org/autodiscover/autodiscover.xml', { method: 'POST', body: body('<x>@example.org') })).text();
    expect(hostile).toContain('<ErrorCode>600</ErrorCode>');
  });
});

describe('Apple profile', () => {
  it('downloads for a logged-in admin only, with the SRV host and ports and no password', async () => {
    const app = edge();
    const anon = await app.request('https://admin.example.org/accounts/alice%40example.org/apple.mobileconfig');
    expect(anon.status).toBe(303);
    const c = new Client(app);
    await c.login();
    const res = await c.fetch('/accounts/alice%40example.org/apple.mobileconfig');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-apple-aspen-config/);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="alice@example.org.mobileconfig"');
    const plist = await res.text();
    const value = (key: string) => new RegExp(`<key>${key}</key>\\s*<(?:string|integer)>([^<]*)<`).exec(plist)?.[1];
    expect(value('IncomingMailServerHostName')).toBe(srv('_imaps._tcp')[1]);
    expect(Number(value('IncomingMailServerPortNumber'))).toBe(srv('_imaps._tcp')[0]);
    expect(Number(value('OutgoingMailServerPortNumber'))).toBe(srv('_submissions._tcp')[0]);
    expect(Number(value('CalDAVPort'))).toBe(srv('_caldavs._tcp')[0]);
    expect(Number(value('CardDAVPort'))).toBe(srv('_carddavs._tcp')[0]);
    expect(value('EmailAddress')).toBe('alice@example.org');
    expect(plist).not.toMatch(/Password<\/key>\s*<string>/);
    // The same address gives the same UUIDs, so a newer profile replaces the old one.
    const again = await (await c.fetch('/accounts/alice%40example.org/apple.mobileconfig')).text();
    expect(again).toBe(plist);
  });
});
