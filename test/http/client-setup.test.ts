/**
 * Mail client set-up answered by the node's real HTTPS listener (node/dns
 * points mta-sts.*, autoconfig.* and autodiscover.* at the mail host): the
 * hosts and ports in a Thunderbird autoconfig lookup and an Outlook
 * autodiscover POST are the ones in the SRV records the node's own DNS
 * endpoint lists, and the MTA-STS policy hashes to the _mta-sts TXT id.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { mtaStsPolicyId } from '../../node/dns/index.js';
import { startHttp, type HttpHandle } from '../../node/http/index.js';
import { signRequest } from '../../node/http/signature.js';
import { CertificateStore } from '../../node/tls/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, testTls, type TestStore } from '../helpers/store.js';
import { ADDRESSES, MAIL_HOST, SECRET } from './harness.js';

interface Rec {
  type: string;
  name: string;
  value: string;
  priority?: number;
}

interface Node {
  t: TestStore;
  tls: CertificateStore;
  server: HttpHandle;
}

const { key, cert } = testTls();
let withPop: Node;
let withoutPop: Node;

async function startNode(pop3: boolean): Promise<Node> {
  const t = makeTestStore();
  const tls = new CertificateStore(cert.toString(), key.toString());
  const config = testConfig(t.dataDir, { hostname: MAIL_HOST, pop3: { enabled: pop3 } });
  const server = await startHttp(
    { store: t.store, tls, config, log: silentLogger, authLimiter: new AuthLimiter({ stepDelayMs: 1, maxDelayMs: 5 }), adminSecret: SECRET, publicAddresses: ADDRESSES, interfaceAddresses: () => ({}) },
    { http: false },
  );
  t.store.directory.addDomain('example.org');
  return { t, tls, server };
}

function request(node: Node, opts: { method?: string; host: string; path: string; body?: string; headers?: Record<string, string> }): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: node.server.httpsPort, ca: cert, servername: 'localhost', method: opts.method ?? 'GET', path: opts.path, headers: { Host: opts.host, ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The DNS records the node lists for a domain (GET /api/v1/domains/<d>/dns, signed like the edge signs). */
async function dnsRecords(node: Node, domain: string): Promise<Rec[]> {
  const path = `/api/v1/domains/${domain}/dns`;
  const res = await request(node, { host: MAIL_HOST, path, headers: await signRequest(SECRET, { method: 'GET', path, body: '' }) });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { records: Rec[] }).records;
}

/** The SRV record for a service as { port, target }, or undefined when none is published. */
function srv(records: Rec[], service: string): { port: number; target: string } | undefined {
  const r = records.find((x) => x.type === 'SRV' && x.name === `${service}.example.org`);
  if (!r) return undefined;
  const [, port, target] = r.value.split(' ');
  return { port: Number(port), target };
}

function tag(xml: string, block: RegExp, name: string): string | undefined {
  const b = block.exec(xml)?.[0];
  return b === undefined ? undefined : new RegExp(`<${name}>([^<]*)</${name}>`).exec(b)?.[1];
}

beforeAll(async () => {
  [withPop, withoutPop] = await Promise.all([startNode(true), startNode(false)]);
});

afterAll(async () => {
  for (const n of [withPop, withoutPop]) {
    if (!n) continue;
    await n.server.close();
    n.tls.close();
    n.t.cleanup();
  }
});

const IMAP = /<incomingServer type="imap">[\s\S]*?<\/incomingServer>/;
const POP3 = /<incomingServer type="pop3">[\s\S]*?<\/incomingServer>/;
const SMTPS = /<outgoingServer type="smtp">(?:(?!<\/outgoingServer>)[\s\S])*?<socketType>SSL[\s\S]*?<\/outgoingServer>/;
const STARTTLS = /<outgoingServer type="smtp">(?:(?!<\/outgoingServer>)[\s\S])*?<socketType>STARTTLS[\s\S]*?<\/outgoingServer>/;

describe('Thunderbird autoconfig on the node', () => {
  it('names the hosts and ports of the SRV records, on both lookup URLs', async () => {
    const records = await dnsRecords(withPop, 'example.org');
    // The lookup host is one the node's DNS points at itself.
    expect(records.find((r) => r.name === 'autoconfig.example.org')).toMatchObject({ type: 'CNAME', value: MAIL_HOST });
    for (const [host, path] of [
      ['autoconfig.example.org', '/mail/config-v1.1.xml?emailaddress=alice%40example.org'],
      [MAIL_HOST, '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.org'],
    ]) {
      const res = await request(withPop, { host, path });
      expect(res.status).toBe(200);
      expect(res.type).toBe('application/xml; charset=utf-8');
      expect(res.body).toContain('<emailProvider id="example.org">');
      for (const [block, service, socket] of [
        [IMAP, '_imaps._tcp', 'SSL'],
        [POP3, '_pop3s._tcp', 'SSL'],
        [SMTPS, '_submissions._tcp', 'SSL'],
        [STARTTLS, '_submission._tcp', 'STARTTLS'],
      ] as const) {
        const s = srv(records, service)!;
        expect(tag(res.body, block, 'hostname'), service).toBe(s.target);
        expect(Number(tag(res.body, block, 'port')), service).toBe(s.port);
        expect(tag(res.body, block, 'socketType'), service).toBe(socket);
      }
      const dav = srv(records, '_caldavs._tcp')!;
      expect(dav.port).toBe(443);
      expect(res.body).toContain(`<serverURL>https://${dav.target}/.well-known/caldav</serverURL>`);
    }
  });

  it('leaves POP3 out exactly when DNS has no _pop3s record, and refuses domains it does not host', async () => {
    const records = await dnsRecords(withoutPop, 'example.org');
    expect(srv(records, '_pop3s._tcp')).toBeUndefined();
    const res = await request(withoutPop, { host: 'autoconfig.example.org', path: '/mail/config-v1.1.xml' });
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('type="pop3"');
    expect(Number(tag(res.body, IMAP, 'port'))).toBe(srv(records, '_imaps._tcp')!.port);
    const stranger = await request(withPop, { host: 'autoconfig.stranger.example', path: '/mail/config-v1.1.xml' });
    expect(stranger.status).toBe(404);
    expect(stranger.body).not.toContain('stranger.example');
    const bare = await request(withPop, { host: MAIL_HOST, path: '/.well-known/autoconfig/mail/config-v1.1.xml' });
    expect(bare.status).toBe(404);
    expect(bare.body).toContain('emailaddress=');
  });
});

describe('Outlook autodiscover on the node', () => {
  const body = (address: string) =>
    `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${address}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`;
  const post = (node: Node, text: string, path = '/autodiscover/autodiscover.xml') =>
    request(node, { method: 'POST', host: 'autodiscover.example.org', path, body: text, headers: { 'content-type': 'text/xml' } });

  it('answers the IMAP and SMTP hosts and ports of the SRV records', async () => {
    const records = await dnsRecords(withPop, 'example.org');
    expect(records.find((r) => r.name === 'autodiscover.example.org')).toMatchObject({ type: 'CNAME', value: MAIL_HOST });
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      const res = await post(withPop, body('Alice@Example.org'), path);
      expect(res.status).toBe(200);
      expect(res.type).toBe('application/xml; charset=utf-8');
      const imap = /<Protocol>\s*<Type>IMAP<\/Type>[\s\S]*?<\/Protocol>/;
      const smtp = /<Protocol>\s*<Type>SMTP<\/Type>[\s\S]*?<\/Protocol>/;
      expect(tag(res.body, imap, 'Server')).toBe(srv(records, '_imaps._tcp')!.target);
      expect(Number(tag(res.body, imap, 'Port'))).toBe(srv(records, '_imaps._tcp')!.port);
      expect(tag(res.body, smtp, 'Server')).toBe(srv(records, '_submissions._tcp')!.target);
      expect(Number(tag(res.body, smtp, 'Port'))).toBe(srv(records, '_submissions._tcp')!.port);
      expect(tag(res.body, imap, 'LoginName')).toBe('Alice@example.org');
    }
  });

  it('answers an error document for strangers and requests without an address; refuses huge bodies', async () => {
    const stranger = await post(withPop, body('bob@stranger.example'));
    expect(stranger.status).toBe(200);
    expect(stranger.body).toContain('<ErrorCode>600</ErrorCode>');
    expect(stranger.body).not.toContain('<Protocol>');
    const none = await post(withPop, '<Autodiscover/>');
    expect(none.body).toContain('no valid e-mail address');
    const huge = await post(withPop, body('alice@example.org') + ' '.repeat(20_000));
    expect(huge.status).toBe(413);
  });
});

describe('MTA-STS on the node', () => {
  it('serves the policy whose hash is the id in the _mta-sts TXT record', async () => {
    const records = await dnsRecords(withPop, 'example.org');
    const res = await request(withPop, { host: 'mta-sts.example.org', path: '/.well-known/mta-sts.txt' });
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/plain; charset=utf-8');
    const txt = records.find((r) => r.type === 'TXT' && r.name === '_mta-sts.example.org')!;
    expect(txt.value).toBe(`v=STSv1; id=${mtaStsPolicyId(res.body)}`);
    const mx = records.find((r) => r.type === 'MX' && r.name === 'example.org')!;
    expect(res.body).toContain(`\r\nmx: ${mx.value}\r\n`);
    expect((await request(withPop, { host: 'mta-sts.stranger.example', path: '/.well-known/mta-sts.txt' })).status).toBe(404);
  });
});
