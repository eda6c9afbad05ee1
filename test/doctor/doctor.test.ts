/**
 * @module test/doctor/doctor
 * `runDoctor` against a real authoritative DNS server (Knot) on loopback.
 * Every scenario is its own mail domain, mail host and pair of addresses in
 * one Knot instance: a correct zone made from node/dns's list passes every
 * check; each broken zone, and each fault outside DNS (port 25 blocked, a
 * bad certificate, replication lag, a stuck queue), fails exactly the
 * checks it should, each with a fix that names what to do.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRecord, mailDnsRecords, mtaStsPolicyFor, type DnsRecord } from '../../node/dns/index.js';
import { loadConfig } from '../../node/config/index.js';
import { arpaName, doctorDepsFor, doctorDnsInput, formatDoctorReport, reversedName, runDoctor, type DoctorDeps, type DoctorDkimKey } from '../../node/doctor/index.js';
import { resolverFor, type Resolver } from '../../node/smtp/index.js';
import { makeDkimKey } from '../../node/store/index.js';
import { CloudflareDns, createSelfSignedCertificate } from '../../node/tls/index.js';
import { startFakeCloudflare } from '../tls/cloudflare-api.js';
import { startKnot, txtData, type Knot } from '../helpers/knot.js';
import { TestCa } from './pki.js';
import { freePort } from '../helpers/ports.js';

const rsa = makeDkimKey('rsa');
const ed = makeDkimKey('ed25519');
const otherRsa = makeDkimKey('rsa');
const KEYS: DoctorDkimKey[] = [
  { selector: 'h2026a', algorithm: 'rsa', publicKeyDns: rsa.publicKeyDns },
  { selector: 'h2026e', algorithm: 'ed25519', publicKeyDns: ed.publicKeyDns },
];

interface Scenario {
  /** Its own mail domain: <name>.test, mail host mail.<name>.test, addresses 192.0.2.<n> and 2001:db8::<n>. */
  n: number;
  /** Changes to the correct record list. */
  records?: (recs: DnsRecord[], s: Names) => DnsRecord[];
  /** PTR targets (null: no PTR). */
  ptr4?: string | null;
  ptr6?: string | null;
  /** Serve this policy instead of the right one. */
  policy?: (s: Names) => string;
  /** Deps beyond the defaults (the zone is made from node/dns with them too). */
  over?: Partial<DoctorDeps>;
  /**
   * A node of a standby deployment (issue 19): the mail host's addresses are Floating IPs, this node
   * (fsn1.mail.<name>.test) sends from its own, 192.0.2.<n+100> and 2001:db8::<n+100>; the other node is nbg1.
   */
  standby?: {
    /** PTR target of this node's own IPv4 (default its own name). */
    nodePtr4?: string;
    /** Leave the node's own A record out of the zone. */
    noNodeA?: boolean;
    /** This machine lacks the Floating IPv4. */
    noFloating4?: boolean;
  };
}

interface Names {
  domain: string;
  mailHost: string;
  ipv4: string;
  ipv6: string;
}

/**
 * node/dns's extra input for a node whose config names a relay, built the way
 * `haven doctor` and the admin API build it (config.spfExtra, which infra's
 * cloud-init sets from haven:spfExtra).
 */
const RELAY_DNS = doctorDepsFor({
  config: loadConfig({ env: { HAVEN_SPF_EXTRA: 'include:spf.relay.test' } }),
  directory: { listDomains: () => [{ name: 'relay.test' }], dkimKeys: () => KEYS },
  ipv4: '192.0.2.99',
  ipv6: '2001:db8::99',
  certificate: new X509Certificate(new TestCa().issue(['localhost']).certPem),
}).dns;

/** The same for a node configured with dmarcPolicy: reject (infra's haven:dmarcPolicy reject). */
const REJECT_DNS = doctorDepsFor({
  config: loadConfig({ env: { HAVEN_DMARC_POLICY: 'reject' } }),
  directory: { listDomains: () => [{ name: 'reject.test' }], dkimKeys: () => KEYS },
  ipv4: '192.0.2.99',
  ipv6: '2001:db8::99',
  certificate: new X509Certificate(new TestCa().issue(['localhost']).certPem),
}).dns;

const SCENARIOS: Record<string, Scenario> = {
  good: { n: 1 },
  'a-wrong': { n: 2, records: (r, s) => r.map((x) => (x.type === 'A' ? { ...x, content: '192.0.2.200' } : x)) },
  'aaaa-missing': { n: 3, records: (r) => r.filter((x) => x.type !== 'AAAA') },
  'mx-wrong': { n: 4, records: (r) => r.map((x) => (x.type === 'MX' ? { ...x, content: 'mx.elsewhere.example' } : x)) },
  'ptr4-missing': { n: 5, ptr4: null },
  'ptr6-wrong': { n: 6, ptr6: 'host.ptr6-wrong.test' },
  'spf-no-ipv6': { n: 7, records: (r, s) => r.map((x) => (x.type === 'TXT' && x.name === s.domain ? { ...x, content: `v=spf1 ip4:${s.ipv4} -all` } : x)) },
  'dkim-wrong': { n: 8, records: (r) => r.map((x) => (x.type === 'TXT' && x.name.startsWith('h2026a._domainkey.') ? { ...x, content: `v=DKIM1; k=rsa; p=${otherRsa.publicKeyDns}` } : x)) },
  'dmarc-missing': { n: 9, records: (r) => r.filter((x) => !x.name.startsWith('_dmarc.')) },
  'mta-sts-missing': { n: 10, records: (r) => r.filter((x) => !x.name.startsWith('_mta-sts.')) },
  'mta-sts-policy': { n: 11, policy: () => mtaStsPolicyFor({ mailHost: 'mx.elsewhere.example' }) },
  'tls-rpt-missing': { n: 12, records: (r) => r.filter((x) => !x.name.startsWith('_smtp._tls.')) },
  'srv-missing': { n: 13, records: (r) => r.filter((x) => !x.name.startsWith('_imaps._tcp.')) },
  'caa-wrong': { n: 14, records: (r) => r.map((x) => (x.type === 'CAA' ? { ...x, value: 'pki.goog' } : x)) },
  'dnsbl-listed': { n: 15 },
  lenient: {
    n: 16,
    // A node configured with dmarcPolicy none, publishing it.
    over: { dns: { dmarcPolicy: 'none' } },
    records: (r, s) =>
      r
        .filter((x) => x.type !== 'CAA')
        .map((x) => (x.type === 'TXT' && x.name === s.domain ? { ...x, content: x.content.replace('-all', '~all') } : x))
        .map((x) => (x.type === 'TXT' && x.name.startsWith('_dmarc.') ? { ...x, content: 'v=DMARC1; p=none' } : x)),
    policy: (s) => mtaStsPolicyFor({ mailHost: s.mailHost, mtaStsMode: 'testing' }),
  },
  relay: { n: 17, over: { dns: RELAY_DNS } },
  // The zone as published before the relay was added: the node expects the relay's include too.
  'relay-missing': { n: 18, over: { dns: RELAY_DNS }, records: (r, s) => r.map((x) => (x.type === 'TXT' && x.name === s.domain ? { ...x, content: `v=spf1 ip4:${s.ipv4} ip6:${s.ipv6} -all` } : x)) },
  'dmarc-reject': { n: 19, over: { dns: REJECT_DNS } },
  // The zone as published before the policy was raised to reject in the config.
  'dmarc-weaker': { n: 20, over: { dns: REJECT_DNS }, records: (r) => r.map((x) => (x.type === 'TXT' && x.name.startsWith('_dmarc.') ? { ...x, content: x.content.replace('p=reject', 'p=quarantine') } : x)) },
  // Published stricter than the node (default quarantine) expects.
  // The zone as published before infra added the mail host's own SPF record (RFC 7208 §2.3).
  'helo-spf-missing': { n: 22, records: (r, s) => r.filter((x) => !(x.type === 'TXT' && x.name === s.mailHost)) },
  // The zone as published before ManageSieve landed: no _sieve._tcp (RFC 5804 §1.8).
  'sieve-missing': { n: 23, records: (r) => r.filter((x) => !x.name.startsWith('_sieve._tcp.')) },
  // An SRV record pointing clients at the wrong port (4190 is the one RFC 5804 §1.8 registers and the node listens on).
  'sieve-port': { n: 24, records: (r) => r.map((x) => (x.type === 'SRV' && x.name.startsWith('_sieve._tcp.') ? { ...x, port: 2000 } : x)) },
  // A node that does not offer ManageSieve: node/dns leaves _sieve._tcp out of the zone and the doctor does not ask for it.
  'sieve-off': { n: 25, over: { dns: { manageSieve: false } } },
  'dmarc-stricter': { n: 21, records: (r) => r.map((x) => (x.type === 'TXT' && x.name.startsWith('_dmarc.') ? { ...x, content: x.content.replace('p=quarantine', 'p=reject') } : x)) },
  standby: { n: 26, standby: {}, over: { dns: { spfExtra: ['a:fsn1.mail.standby.test', 'a:nbg1.mail.standby.test'] } } },
  // The mail host's SPF as infra published it before it named the nodes: their own addresses fail the HELO identity.
  'standby-helo': {
    n: 27,
    standby: {},
    over: { dns: { spfExtra: ['a:fsn1.mail.standby-helo.test', 'a:nbg1.mail.standby-helo.test'] } },
    records: (r, s) => r.map((x) => (x.type === 'TXT' && x.name === s.mailHost ? { ...x, content: `v=spf1 ip4:${s.ipv4} ip6:${s.ipv6} -all` } : x)),
  },
  // The node's own address named after the mail host (as a single node's would be): FCrDNS of the sending address fails.
  'standby-node-ptr': { n: 28, standby: { nodePtr4: 'mail.standby-node-ptr.test' }, over: { dns: { spfExtra: ['a:fsn1.mail.standby-node-ptr.test'] } } },
  'standby-no-node-a': { n: 29, standby: { noNodeA: true }, over: { dns: { spfExtra: ['a:fsn1.mail.standby-no-node-a.test'] } } },
  'standby-no-floating': { n: 30, standby: { noFloating4: true }, over: { dns: { spfExtra: ['a:fsn1.mail.standby-no-floating.test'] } } },
};

/** A standby scenario's own node: its name and its own addresses. */
function nodeOf(name: string): { host: string; other: string; ipv4: string; ipv6: string; otherIpv4: string; otherIpv6: string } {
  const n = SCENARIOS[name].n;
  return { host: `fsn1.mail.${name}.test`, other: `nbg1.mail.${name}.test`, ipv4: `192.0.2.${n + 100}`, ipv6: `2001:db8::${(n + 100).toString(16)}`, otherIpv4: `192.0.2.${n + 150}`, otherIpv6: `2001:db8::${(n + 150).toString(16)}` };
}

function names(name: string): Names {
  const n = SCENARIOS[name].n;
  return { domain: `${name}.test`, mailHost: `mail.${name}.test`, ipv4: `192.0.2.${n}`, ipv6: `2001:db8::${n.toString(16)}` };
}

function zoneLine(r: DnsRecord): string {
  return r.type === 'TXT' ? `${r.name}. ${r.ttl} IN TXT ${txtData(r.content)}` : formatRecord(r);
}

const ca = new TestCa();
let knot: Knot;
let knotResolver: Resolver;
let policyServer: https.Server;
let policyPort: number;
let smtpProbe: net.Server;
let smtpPort: number;
let closedPort: number;

function deps(name: string, over: Partial<DoctorDeps> = {}): DoctorDeps {
  const s = names(name);
  return {
    resolver: (n, t) => knotResolver(n, t),
    mailHost: s.mailHost,
    ipv4: s.ipv4,
    ipv6: s.ipv6,
    domains: [{ name: s.domain, dkim: KEYS }],
    pop3: true,
    certificate: new X509Certificate(ca.issue([s.mailHost]).certPem),
    outbound: { host: '127.0.0.1', port: smtpPort, timeoutMs: 2000 },
    blocklists: ['bl.test'],
    mtaSts: { port: policyPort, ca: ca.certPem, address: '127.0.0.1', timeoutMs: 2000 },
    replication: () => ({ lagMs: 120, healthy: true, lastError: null }),
    queue: () => ({ queued: 2, oldestAt: Date.now() - 60_000 }),
    ...standbyDeps(name),
    ...SCENARIOS[name].over,
    ...over,
  };
}

/**
 * A standby scenario's machine: its interfaces hold its own addresses first and the Floating IPs, and the
 * address the doctor starts from is the first (its own), as publicAddresses() would pick; the doctor must
 * tell them apart.
 */
function standbyDeps(name: string): Partial<DoctorDeps> {
  const sb = SCENARIOS[name].standby;
  if (!sb) return {};
  const s = names(name);
  const node = nodeOf(name);
  return {
    ipv4: node.ipv4,
    ipv6: node.ipv6,
    standby: { nodeHost: node.host, addresses: [node.ipv4, ...(sb.noFloating4 ? [] : [s.ipv4]), node.ipv6, s.ipv6] },
  };
}

beforeAll(async () => {
  const zones: Record<string, string[]> = {
    '2.0.192.in-addr.arpa': [],
    // 2001:db8::/64
    '0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa': [],
    'bl.test': [],
  };
  const policies = new Map<string, string>();
  for (const [name, sc] of Object.entries(SCENARIOS)) {
    const s = names(name);
    // The zone as published: the mail host at its addresses (the Floating IPs for a standby scenario).
    const d = deps(name, { resolver: () => Promise.reject(new Error('unused')), ipv4: s.ipv4, ipv6: s.ipv6 });
    let recs = mailDnsRecords(doctorDnsInput(d));
    if (sc.standby) {
      const node = nodeOf(name);
      if (!sc.standby.noNodeA) recs.push({ type: 'A', name: node.host, zone: s.domain, ttl: 3600, content: node.ipv4, purpose: 'node' });
      recs.push({ type: 'AAAA', name: node.host, zone: s.domain, ttl: 3600, content: node.ipv6, purpose: 'node' });
      recs.push({ type: 'A', name: node.other, zone: s.domain, ttl: 3600, content: node.otherIpv4, purpose: 'other node' });
      recs.push({ type: 'AAAA', name: node.other, zone: s.domain, ttl: 3600, content: node.otherIpv6, purpose: 'other node' });
      zones['2.0.192.in-addr.arpa'].push(`${arpaName(node.ipv4)}. 300 IN PTR ${sc.standby.nodePtr4 ?? node.host}.`);
      zones['0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'].push(`${arpaName(node.ipv6)}. 300 IN PTR ${node.host}.`);
    }
    recs.push({ type: 'TXT', name: `h2026e._domainkey.${s.domain}`, zone: s.domain, ttl: 3600, content: `v=DKIM1; k=ed25519; p=${ed.publicKeyDns}`, purpose: 'second key' });
    if (sc.records) recs = sc.records(recs, s);
    zones[s.domain] = recs.map(zoneLine);
    if (sc.ptr4 !== null) zones['2.0.192.in-addr.arpa'].push(`${arpaName(s.ipv4)}. 300 IN PTR ${sc.ptr4 ?? s.mailHost}.`);
    if (sc.ptr6 !== null) zones['0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'].push(`${arpaName(s.ipv6)}. 300 IN PTR ${sc.ptr6 ?? s.mailHost}.`);
    policies.set(`mta-sts.${s.domain}`, sc.policy ? sc.policy(s) : mtaStsPolicyFor({ mailHost: s.mailHost }));
  }
  const listed = names('dnsbl-listed').ipv4;
  zones['bl.test'].push(`${reversedName(listed, 'bl.test')}. 300 IN A 127.0.0.2`, `${reversedName(listed, 'bl.test')}. 300 IN TXT "Listed: see https://bl.test/lookup?ip=${listed}"`);
  knot = await startKnot(zones);
  knotResolver = resolverFor([knot.server]);

  // The MTA-STS policy hosts, one certificate each from the test CA, chosen by SNI.
  const pair = (host: string) => {
    const { certPem, keyPem } = ca.issue([host]);
    return { cert: certPem, key: keyPem };
  };
  const contexts = new Map([...policies.keys()].map((host) => [host, tls.createSecureContext(pair(host))]));
  policyServer = https.createServer({ ...pair('localhost'), SNICallback: (name, cb) => cb(null, contexts.get(name)) }, (req, res) => {
    const body = policies.get(String(req.headers.host));
    if (req.url !== '/.well-known/mta-sts.txt' || body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  policyServer.listen(0, '127.0.0.1');
  await once(policyServer, 'listening');
  policyPort = (policyServer.address() as net.AddressInfo).port;

  // Someone's MX, greeting as MXs do.
  smtpProbe = net.createServer((sock) => sock.end('220 mx.remote.test ESMTP\r\n'));
  smtpProbe.listen(0, '127.0.0.1');
  await once(smtpProbe, 'listening');
  smtpPort = (smtpProbe.address() as net.AddressInfo).port;
  closedPort = await freePort();
}, 30_000);

afterAll(async () => {
  policyServer?.close();
  smtpProbe?.close();
  await knot?.stop();
});

describe('haven doctor against Knot on loopback', () => {
  it('a correct zone: every check OK', async () => {
    const report = await runDoctor(deps('good'));
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(report.ok).toBe(true);
    const ids = report.checks.map((c) => c.id).sort();
    expect(ids).toEqual(
      [
        'a:mail.good.test',
        'aaaa:mail.good.test',
        'caa:good.test',
        'caa:mail.good.test',
        'certificate',
        'dkim:h2026a._domainkey.good.test',
        'dkim:h2026e._domainkey.good.test',
        'dmarc:good.test',
        'dnsbl:192.0.2.1',
        'dnsbl:2001:db8::1',
        'mta-sts-policy:good.test',
        'mta-sts-txt:good.test',
        'mx:good.test',
        'ptr:ipv4',
        'ptr:ipv6',
        'queue',
        'replication',
        'spf:good.test',
        'spf:mail.good.test',
        'srv:good.test',
        'tls-rpt:good.test',
        'outbound-smtp',
      ].sort(),
    );
    expect(report.checks.find((c) => c.id === 'ptr:ipv6')!.detail).toBe('2001:db8::1 → mail.good.test → 2001:db8::1 (forward-confirmed)');
    expect(report.summary).toEqual({ ok: ids.length, warn: 0, fail: 0 });
    const text = formatDoctorReport(report);
    expect(text.at(-1)).toBe(`${ids.length} OK, 0 warnings, 0 failed`);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  const faults: [string, Partial<DoctorDeps> | ((d: DoctorDeps) => Partial<DoctorDeps>), Record<string, RegExp>][] = [
    ['a-wrong', {}, { 'a:mail.a-wrong.test': /^publish mail\.a-wrong\.test\. 3600 IN A 192\.0\.2\.2 and remove the others$/, 'ptr:ipv4': /^publish mail\.a-wrong\.test\. IN A 192\.0\.2\.2$/ }],
    ['aaaa-missing', {}, { 'aaaa:mail.aaaa-missing.test': /^publish mail\.aaaa-missing\.test\. 3600 IN AAAA 2001:db8::3$/, 'ptr:ipv6': /IN AAAA 2001:db8::3/ }],
    ['mx-wrong', {}, { 'mx:mx-wrong.test': /^publish mx-wrong\.test\. 3600 IN MX 10 mail\.mx-wrong\.test\. and remove the others$/ }],
    ['ptr4-missing', {}, { 'ptr:ipv4': /^set the reverse DNS of 192\.0\.2\.5 to mail\.ptr4-missing\.test where the address is hosted/ }],
    ['ptr6-wrong', {}, { 'ptr:ipv6': /^set the reverse DNS of 2001:db8::6 to mail\.ptr6-wrong\.test/ }],
    ['spf-no-ipv6', {}, { 'spf:spf-no-ipv6.test': /^publish spf-no-ipv6\.test\. 3600 IN TXT "v=spf1 ip4:192\.0\.2\.7 ip6:2001:db8::7 -all" \(or add ip4:192\.0\.2\.7 ip6:2001:db8::7 before the all\)$/ }],
    ['dkim-wrong', {}, { 'dkim:h2026a._domainkey.dkim-wrong.test': /^replace it: h2026a\._domainkey\.dkim-wrong\.test\. 3600 IN TXT "v=DKIM1; k=rsa; p=MII/ }],
    ['dmarc-missing', {}, { 'dmarc:dmarc-missing.test': /^publish _dmarc\.dmarc-missing\.test\. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@dmarc-missing\.test; adkim=s; aspf=s"$/ }],
    ['mta-sts-missing', {}, { 'mta-sts-txt:mta-sts-missing.test': /^publish _mta-sts\.mta-sts-missing\.test\. 3600 IN TXT "v=STSv1; id=[0-9a-f]{16}" as the only one$/ }],
    ['mta-sts-policy', {}, { 'mta-sts-policy:mta-sts-policy.test': /^serve this at https:\/\/mta-sts\.mta-sts-policy\.test\/\.well-known\/mta-sts\.txt .*\nversion: STSv1\nmode: enforce\nmx: mail\.mta-sts-policy\.test\nmax_age: 604800$/ }],
    ['tls-rpt-missing', {}, { 'tls-rpt:tls-rpt-missing.test': /^publish _smtp\._tls\.tls-rpt-missing\.test\. 3600 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@tls-rpt-missing\.test"$/ }],
    ['srv-missing', {}, { 'srv:srv-missing.test': /^publish:\n_imaps\._tcp\.srv-missing\.test\. 3600 IN SRV 0 1 993 mail\.srv-missing\.test\.$/ }],
    ['caa-wrong', {}, { 'caa:caa-wrong.test': /^publish:\ncaa-wrong\.test\. 3600 IN CAA 0 issue "letsencrypt\.org"$/, 'caa:mail.caa-wrong.test': /CAA 0 issue "letsencrypt\.org"/ }],
    ['relay-missing', {}, { 'spf:relay-missing.test': /^publish relay-missing\.test\. 3600 IN TXT "v=spf1 ip4:192\.0\.2\.18 ip6:2001:db8::12 include:spf\.relay\.test -all" \(or add include:spf\.relay\.test before the all\)$/ }],
    ['helo-spf-missing', {}, { 'spf:mail.helo-spf-missing.test': /^publish mail\.helo-spf-missing\.test\. 3600 IN TXT "v=spf1 ip4:192\.0\.2\.22 ip6:2001:db8::16 -all"$/ }],
    ['sieve-missing', {}, { 'srv:sieve-missing.test': /^publish:\n_sieve\._tcp\.sieve-missing\.test\. 3600 IN SRV 0 1 4190 mail\.sieve-missing\.test\.$/ }],
    ['sieve-port', {}, { 'srv:sieve-port.test': /^publish:\n_sieve\._tcp\.sieve-port\.test\. 3600 IN SRV 0 1 4190 mail\.sieve-port\.test\.$/ }],
    ['dmarc-weaker', {}, { 'dmarc:dmarc-weaker.test': /^publish _dmarc\.dmarc-weaker\.test\. 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:postmaster@dmarc-weaker\.test; adkim=s; aspf=s"$/ }],
    ['dnsbl-listed', {}, { 'dnsbl:192.0.2.15': /^find and stop what sent spam from 192\.0\.2\.15, then ask each list to delist it/ }],
    ['good', { outbound: { host: '127.0.0.1', port: 0, timeoutMs: 2000 } }, { 'outbound-smtp': /Hetzner new accounts must ask support to lift the block \(or set smarthost/ }],
    ['good', { certificate: new X509Certificate(new TestCa().issue(['mail.good.test'], { notBefore: new Date(Date.now() - 100 * 86400_000), notAfter: new Date(Date.now() - 86400_000) }).certPem) }, { certificate: /^run `haven certs renew`/ }],
    ['good', { certificate: new X509Certificate(new TestCa().issue(['mail.other.test']).certPem) }, { certificate: /^set hostname to mail\.good\.test and run `haven certs renew`/ }],
    ['good', { replication: () => ({ lagMs: 180_000, healthy: false, lastError: 'S3 PUT: connect ECONNREFUSED', target: 's3://bucket/node' }) }, { replication: /^check the replica \(s3:\/\/bucket\/node\) is reachable/ }],
    ['good', { queue: () => ({ queued: 7, oldestAt: Date.now() - 48 * 3600_000 }) }, { queue: /outbound port 25 is blocked or a remote server refuses the node/ }],
    // Standby deployments (issue 19). RFC 7208 §2.3: the HELO identity's SPF must pass for the address mail leaves from.
    ['standby-helo', {}, { 'spf:mail.standby-helo.test': /^publish mail\.standby-helo\.test\. 3600 IN TXT "v=spf1 ip4:192\.0\.2\.27 ip6:2001:db8::1b a:fsn1\.mail\.standby-helo\.test a:nbg1\.mail\.standby-helo\.test -all"/ }],
    ['standby-node-ptr', {}, { 'ptr:node-ipv4': /^set the reverse DNS of 192\.0\.2\.128 to fsn1\.mail\.standby-node-ptr\.test/ }],
    // Started from the Floating IPs (the node's own cannot be told without its name).
    ['standby-no-node-a', (d) => ({ ipv4: names('standby-no-node-a').ipv4, ipv6: names('standby-no-node-a').ipv6, standby: d.standby }), { 'node-host:fsn1.mail.standby-no-node-a.test': /^publish fsn1\.mail\.standby-no-node-a\.test\. IN A and AAAA with this server's own addresses/ }],
    ['standby-no-floating', (d) => ({ ipv4: names('standby-no-floating').ipv4, standby: d.standby }), { 'floating:ipv4': /^configure the mail host's Floating IPv4/ }],
    // A database the replica does not hold at all is a failure even with no lag (issue 15: a restore would lose it).
    ['good', { replication: () => ({ lagMs: 0, healthy: true, lastError: null, missing: ['mailbox-abc'] }) }, { replication: /`haven backup` ships every database now$/ }],
  ];

  it.each(faults)('%s %#: each fault is a FAIL with its fix, nothing else fails', async (name, over, expected) => {
    const base = deps(name);
    const d = { ...base, ...(typeof over === 'function' ? over(base) : over) };
    if (d.outbound?.port === 0) d.outbound = { ...d.outbound, port: closedPort };
    const report = await runDoctor(d);
    const failed = Object.fromEntries(report.checks.filter((c) => c.status === 'fail').map((c) => [c.id, c.fix]));
    expect(Object.keys(failed).sort()).toEqual(Object.keys(expected).sort());
    for (const [id, re] of Object.entries(expected)) expect(failed[id]).toMatch(re);
    expect(report.checks.filter((c) => c.status === 'warn')).toEqual([]);
    expect(report.ok).toBe(false);
    expect(formatDoctorReport(report).some((l) => l.startsWith('FAIL  '))).toBe(true);
  });

  it('a standby deployment\'s node: the mail host checked at the Floating IPs, the node\'s own name, address and PTR, and SPF (domain and HELO) for the address mail leaves from', async () => {
    const report = await runDoctor(deps('standby'));
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    const by = Object.fromEntries(report.checks.map((c) => [c.id, c.detail]));
    // The interfaces listed the node's own address first; the mail host is checked at the Floating IPs all the same.
    expect(by['a:mail.standby.test']).toBe('mail.standby.test → 192.0.2.26');
    expect(by['ptr:ipv4']).toBe('192.0.2.26 → mail.standby.test → 192.0.2.26 (forward-confirmed)');
    expect(by['node-host:fsn1.mail.standby.test']).toBe('fsn1.mail.standby.test → 192.0.2.126, 2001:db8::7e (this machine\'s own addresses; mail leaves from them)');
    expect(by['ptr:node-ipv4']).toBe('192.0.2.126 → fsn1.mail.standby.test → 192.0.2.126 (forward-confirmed)');
    expect(by['ptr:node-ipv6']).toBe('2001:db8::7e → fsn1.mail.standby.test → 2001:db8::7e (forward-confirmed)');
    expect(by['spf:mail.standby.test']).toMatch(/authorises 192\.0\.2\.26 and 2001:db8::1a and 192\.0\.2\.126 and 2001:db8::7e/);
    expect(by['spf:standby.test']).toMatch(/authorises .*192\.0\.2\.126.* and lists a:fsn1\.mail\.standby\.test a:nbg1\.mail\.standby\.test/);
    expect(Object.keys(by).filter((id) => id.startsWith('dnsbl:')).sort()).toEqual(['dnsbl:192.0.2.126', 'dnsbl:192.0.2.26', 'dnsbl:2001:db8::1a', 'dnsbl:2001:db8::7e']);
    // A single node's doctor on the same machine would have judged the mail host by its own address.
    const naive = await runDoctor({ ...deps('standby'), standby: undefined });
    expect(naive.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(expect.arrayContaining(['a:mail.standby.test', 'ptr:ipv4']));
  });

  // Issue 19: the nodes send from the Floating IPs (outbound.sourceAddresses), so the connecting address's PTR names the
  // mail host they greet as (RFC 5321 §4.1.1.1) and SPF for the HELO identity (RFC 7208 §2.3) is judged at it.
  it('with outbound.sourceAddresses: the Floating IPs are the configured sources, each must be on this machine, and SPF still covers the node\'s own fallback address', async () => {
    const s = names('standby');
    const node = nodeOf('standby');
    // Another public IPv4 listed before the Floating IP: without the sources the doctor would take it for the mail host's.
    const addresses = [node.ipv4, '192.0.2.250', s.ipv4, node.ipv6, s.ipv6];
    const onMachine = ['127.0.0.1', '::1', ...addresses];
    const withSource = await runDoctor(deps('standby', { standby: { nodeHost: node.host, addresses }, outboundSource: { addresses: [s.ipv4, s.ipv6], onMachine } }));
    expect(withSource.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    const by = Object.fromEntries(withSource.checks.map((c) => [c.id, c]));
    expect(by['outbound-source:192.0.2.26'].detail).toBe('on this machine, and the mail host\'s own address: mail leaves from it');
    expect(by['outbound-source:2001:db8::1a'].status).toBe('ok');
    expect(by['ptr:ipv4'].detail).toBe('192.0.2.26 → mail.standby.test → 192.0.2.26 (forward-confirmed)');
    expect(by['node-host:fsn1.mail.standby.test'].detail).toMatch(/mail leaves from them only while the Floating IPs cannot be used/);
    // The node's own address still sends when the Floating IPs cannot be used, so SPF must keep passing for it.
    expect(by['spf:mail.standby.test'].detail).toMatch(/authorises 192\.0\.2\.26 and 2001:db8::1a and 192\.0\.2\.126 and 2001:db8::7e/);
    const guessed = await runDoctor(deps('standby', { standby: { nodeHost: node.host, addresses } }));
    expect(guessed.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toContain('ptr:ipv4');

    // A source this machine lacks: the node sends from its own address instead; the doctor says so and how to fix it.
    const missing = await runDoctor(deps('standby', { outboundSource: { addresses: [s.ipv4, s.ipv6], onMachine: ['127.0.0.1', node.ipv4, node.ipv6, s.ipv6] } }));
    expect(missing.checks.filter((c) => c.status !== 'ok').map((c) => [c.id, c.status])).toEqual([['outbound-source:192.0.2.26', 'fail']]);
    const miss = missing.checks.find((c) => c.id === 'outbound-source:192.0.2.26')!;
    expect(miss.detail).toMatch(/^192\.0\.2\.26 is not on this machine's interfaces: outbound mail leaves from the default source instead/);
    expect(miss.fix).toMatch(/^configure 192\.0\.2\.26 on the interface/);
  });

  it('doctorDepsFor sees a standby deployment in failover.nodeHost and takes this machine\'s addresses', () => {
    const d = doctorDepsFor({
      config: loadConfig({ env: { HAVEN_FAILOVER_NODE_HOST: 'fsn1.mail.standby.test' } }),
      directory: { listDomains: () => [{ name: 'standby.test' }], dkimKeys: () => KEYS },
      ipv4: '192.0.2.126',
      ipv6: '2001:db8::7e',
      interfaceAddresses: ['192.0.2.126', '192.0.2.26', '2001:db8::7e', '2001:db8::1a'],
      certificate: new X509Certificate(new TestCa().issue(['localhost']).certPem),
    });
    expect(d.standby).toEqual({ nodeHost: 'fsn1.mail.standby.test', addresses: ['192.0.2.126', '192.0.2.26', '2001:db8::7e', '2001:db8::1a'] });
    const single = doctorDepsFor({ config: loadConfig({ env: {} }), directory: { listDomains: () => [{ name: 'x.test' }], dkimKeys: () => KEYS }, ipv4: '192.0.2.1', ipv6: '2001:db8::1', certificate: new X509Certificate(new TestCa().issue(['localhost']).certPem) });
    expect(single.standby).toBeUndefined();
    expect(single.outboundSource).toBeUndefined();
    const sourced = doctorDepsFor({
      config: loadConfig({ env: { HAVEN_OUTBOUND_SOURCE_ADDRESSES: '192.0.2.26,2001:db8::1a' } }),
      directory: { listDomains: () => [{ name: 'x.test' }], dkimKeys: () => KEYS },
      ipv4: '192.0.2.1',
      ipv6: '2001:db8::1',
      machineAddresses: ['127.0.0.1', '192.0.2.26'],
      certificate: new X509Certificate(new TestCa().issue(['localhost']).certPem),
    });
    expect(sourced.outboundSource).toEqual({ addresses: ['192.0.2.26', '2001:db8::1a'], onMachine: ['127.0.0.1', '192.0.2.26'] });
  });

  // RFC 7208 §2.3 (verifiers check the HELO identity) and §2.4 (a bounce's null reverse-path makes the MAIL FROM
  // identity postmaster@<HELO name>): the mail host, the node's HELO name, needs SPF of its own.
  it('checks the SPF record of the mail host itself, the HELO name bounces are judged by', async () => {
    const good = await runDoctor(deps('good'));
    expect(good.checks.find((c) => c.id === 'spf:mail.good.test')).toEqual({
      id: 'spf:mail.good.test',
      title: 'SPF for the mail host mail.good.test (HELO)',
      status: 'ok',
      detail: '"v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 -all" authorises 192.0.2.1 and 2001:db8::1',
    });
    const missing = await runDoctor(deps('helo-spf-missing'));
    expect(missing.checks.find((c) => c.id === 'spf:mail.helo-spf-missing.test')).toMatchObject({
      status: 'fail',
      detail: 'no v=spf1 TXT record at mail.helo-spf-missing.test; bounces (empty MAIL FROM) are checked against the HELO name (RFC 7208 §2.3)',
    });
    // With a relay the HELO record stays without the include (the relay greets with its own name) and passes.
    const relay = await runDoctor(deps('relay'));
    expect(relay.checks.find((c) => c.id === 'spf:mail.relay.test')).toMatchObject({ status: 'ok', detail: '"v=spf1 ip4:192.0.2.17 ip6:2001:db8::11 -all" authorises 192.0.2.17 and 2001:db8::11' });
  });

  // RFC 5804 §1.8: clients find ManageSieve through _sieve._tcp, read with RFC 2782/6186 SRV semantics (target and port).
  it('asks for _sieve._tcp only from a node that offers ManageSieve', async () => {
    const off = await runDoctor(deps('sieve-off'));
    expect(off.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    // The same zone, lacking _sieve._tcp, fails for a node that does offer it, naming the record.
    const on = await runDoctor({ ...deps('sieve-off'), dns: undefined });
    expect(on.checks.filter((c) => c.status !== 'ok').map((c) => [c.id, c.status, c.fix])).toEqual([['srv:sieve-off.test', 'fail', 'publish:\n_sieve._tcp.sieve-off.test. 3600 IN SRV 0 1 4190 mail.sieve-off.test.']]);
    // Knot answers the good zone's _sieve._tcp as the node wants it: one more SRV than the sieve-off zone holds.
    const srv = (r: Awaited<ReturnType<typeof runDoctor>>, zone: string) => r.checks.find((c) => c.id === `srv:${zone}`)!.detail;
    expect(srv(await runDoctor(deps('good')), 'good.test')).toBe('9 records');
    expect(srv(off, 'sieve-off.test')).toBe('8 records');
  });

  it('with a relay in spfExtra, the SPF record infra publishes passes every check', async () => {
    expect(RELAY_DNS).toEqual({ dmarcPolicy: 'quarantine', spfExtra: ['include:spf.relay.test'] });
    const report = await runDoctor(deps('relay'));
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    // infra's record for haven:spfExtra (test/infra/program.test.ts asserts the same text).
    expect(report.checks.find((c) => c.id === 'spf:relay.test')!.detail).toBe('"v=spf1 ip4:192.0.2.17 ip6:2001:db8::11 include:spf.relay.test -all" authorises 192.0.2.17 and 2001:db8::11 and lists include:spf.relay.test');
    // A node without the option does not ask for the include: the same zone passes too.
    const plain = await runDoctor({ ...deps('relay'), dns: undefined });
    expect(plain.checks.find((c) => c.id === 'spf:relay.test')!.status).toBe('ok');
  });

  it('with dmarcPolicy reject, the DMARC record infra publishes passes and a weaker one fails naming the record', async () => {
    expect(REJECT_DNS).toEqual({ dmarcPolicy: 'reject' });
    const report = await runDoctor(deps('dmarc-reject'));
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    // infra's record for haven:dmarcPolicy reject (test/infra/program.test.ts asserts the node and infra agree).
    expect(report.checks.find((c) => c.id === 'dmarc:dmarc-reject.test')!.detail).toBe('"v=DMARC1; p=reject; rua=mailto:postmaster@dmarc-reject.test; adkim=s; aspf=s"');
    // The same zone checked by a node left at the default only warns: reject is stricter, not weaker...
    const dflt = await runDoctor({ ...deps('dmarc-reject'), dns: undefined });
    expect(dflt.checks.find((c) => c.id === 'dmarc:dmarc-reject.test')).toMatchObject({
      status: 'warn',
      detail: '"v=DMARC1; p=reject; rua=mailto:postmaster@dmarc-reject.test; adkim=s; aspf=s" has policy reject, stricter than the quarantine the node expects (dmarcPolicy); the next `pulumi up` publishes quarantine again',
      fix: 'set dmarcPolicy to reject in the node config (haven:dmarcPolicy in the stack), or publish _dmarc.dmarc-reject.test. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@dmarc-reject.test; adkim=s; aspf=s"',
    });
    // ...and a weaker published policy fails whatever the configured one.
    const weaker = await runDoctor(deps('dmarc-weaker'));
    expect(weaker.checks.find((c) => c.id === 'dmarc:dmarc-weaker.test')).toMatchObject({
      status: 'fail',
      detail: '"v=DMARC1; p=quarantine; rua=mailto:postmaster@dmarc-weaker.test; adkim=s; aspf=s" has policy quarantine, weaker than the reject the node expects (dmarcPolicy)',
    });
    const lenient = await runDoctor({ ...deps('lenient'), dns: undefined });
    expect(lenient.checks.find((c) => c.id === 'dmarc:lenient.test')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/^publish _dmarc\.lenient\.test\. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@lenient\.test; adkim=s; aspf=s"$/) });
  });

  it('a zone publishing stricter DMARC than configured: a WARN naming both ways to agree', async () => {
    const report = await runDoctor(deps('dmarc-stricter'));
    expect(report.checks.filter((c) => c.status !== 'ok').map((c) => [c.id, c.status])).toEqual([['dmarc:dmarc-stricter.test', 'warn']]);
    expect(report.ok).toBe(true);
  });

  it('a lenient zone: each weakness is a WARN with its fix, nothing fails', async () => {
    const report = await runDoctor(deps('lenient'));
    const warned = Object.fromEntries(report.checks.filter((c) => c.status !== 'ok').map((c) => [c.id, [c.status, c.fix]]));
    expect(warned).toEqual({
      'spf:lenient.test': ['warn', 'publish lenient.test. 3600 IN TXT "v=spf1 ip4:192.0.2.16 ip6:2001:db8::10 -all"'],
      'dmarc:lenient.test': ['warn', 'set dmarcPolicy to quarantine in the node config (haven:dmarcPolicy in the stack) and publish _dmarc.lenient.test. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@lenient.test; adkim=s; aspf=s"'],
      'mta-sts-policy:lenient.test': ['warn', expect.stringMatching(/\nmode: enforce\n/)],
      'caa:lenient.test': ['warn', 'publish:\nlenient.test. 3600 IN CAA 0 issue "letsencrypt.org"'],
      'caa:mail.lenient.test': ['warn', 'publish:\nlenient.test. 3600 IN CAA 0 issue "letsencrypt.org"'],
    });
    expect(report.ok).toBe(true);
  });

  it('a certificate due for renewal and replication switched off are warnings; a self-signed certificate fails', async () => {
    const soon = new X509Certificate(ca.issue(['mail.good.test'], { notAfter: new Date(Date.now() + 10 * 86400_000) }).certPem);
    const r1 = await runDoctor(deps('good', { certificate: soon, replication: () => null }));
    expect(r1.checks.filter((c) => c.status !== 'ok').map((c) => [c.id, c.status])).toEqual([
      ['certificate', 'warn'],
      ['replication', 'warn'],
    ]);
    expect(r1.ok).toBe(true);
    const self = new X509Certificate((await createSelfSignedCertificate({ hostname: 'mail.good.test' })).certPem);
    const r2 = await runDoctor(deps('good', { certificate: self }));
    expect(r2.checks.find((c) => c.id === 'certificate')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/tls\.acme\.enabled/) });
  });

  it('with ACME dns-01: a Cloudflare token that reaches the zone is OK, one that does not is a FAIL with the fix', async () => {
    const cf = await startFakeCloudflare({ token: 'cf-token', zones: { 'good.test': 'zone-good' }, challtestsrvUrl: 'http://127.0.0.1:9' });
    try {
      const good = await runDoctor(deps('good', { acmeDns: new CloudflareDns({ token: 'cf-token', apiBase: cf.apiBase }) }));
      expect(good.checks.find((c) => c.id === 'acme-dns-01')).toEqual({ id: 'acme-dns-01', title: 'ACME dns-01 through Cloudflare', status: 'ok', detail: 'the token reaches the zone good.test, where _acme-challenge.mail.good.test goes' });
      const bad = await runDoctor(deps('good', { acmeDns: new CloudflareDns({ token: 'revoked', apiBase: cf.apiBase }) }));
      expect(bad.checks.find((c) => c.id === 'acme-dns-01')).toMatchObject({
        status: 'fail',
        detail: 'Cloudflare API GET /zones failed: 9109 Invalid access token: certificates cannot be renewed',
        fix: 'give tls.acme.cloudflareToken the Zone.DNS:Edit permission for this zone',
      });
      expect(bad.ok).toBe(false);
    } finally {
      await cf.close();
    }
  });

  it('a DNS server that does not answer is reported, not thrown', async () => {
    const port = await freePort();
    const report = await runDoctor(deps('good', { resolver: resolverFor([`127.0.0.1:${port}`], { timeoutMs: 200 }) }));
    const a = report.checks.find((c) => c.id === 'a:mail.good.test')!;
    expect(a.status).toBe('fail');
    expect(a.detail).toMatch(/^lookup failed: A mail\.good\.test: E[A-Z]+/);
    expect(a.fix).toMatch(/dig \+trace mail\.good\.test/);
  });
});
