/**
 * @module test/cli/doctor
 * `haven doctor` and `--json` on a real data directory (its DKIM key comes
 * from the directory) against Knot on loopback serving the zone node/dns
 * describes, asked through --dns; outbound SMTP tested with --probe. The
 * text and the JSON carry the same checks; any FAIL makes the exit status 1.
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRecord, mailDnsRecords, type DnsRecord } from '../../node/dns/index.js';
import type { DoctorReport } from '../../node/doctor/index.js';
import { arpaName } from '../../node/doctor/index.js';
import { startKnot, txtData, type Knot } from '../helpers/knot.js';
import { cliHarness, type CliHarness } from './helpers.js';

let h: CliHarness;
let knot: Knot;
let mx: net.Server;
let mxPort: number;
const MAIL = 'mail.doctor.test';

function line(r: DnsRecord): string {
  return r.type === 'TXT' ? `${r.name}. ${r.ttl} IN TXT ${txtData(r.content)}` : formatRecord(r);
}

beforeAll(async () => {
  h = cliHarness();
  expect((await h.run(['domain', 'add', 'doctor.test'])).code).toBe(0);
  const store = h.openStore();
  const [key] = store.directory.dkimKeys('doctor.test');
  store.close();
  const recs = mailDnsRecords({ domains: [{ name: 'doctor.test', dkim: { selector: key.selector, publicKey: key.publicKeyDns, algorithm: key.algorithm } }], mailHost: MAIL, ipv4: '192.0.2.1', ipv6: '2001:db8::1', pop3: true });
  knot = await startKnot({
    'doctor.test': recs.map(line),
    '2.0.192.in-addr.arpa': [`${arpaName('192.0.2.1')}. 300 IN PTR ${MAIL}.`],
    '0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa': [`${arpaName('2001:db8::1')}. 300 IN PTR ${MAIL}.`],
    'bl.test': [],
  });
  mx = net.createServer((s) => s.end('220 mx.remote.test ESMTP\r\n'));
  mx.listen(0, '127.0.0.1');
  await once(mx, 'listening');
  mxPort = (mx.address() as net.AddressInfo).port;
}, 30_000);

afterAll(async () => {
  mx?.close();
  await knot?.stop();
  h?.cleanup();
});

const flags = () => ['--dns', knot.server, '--ipv4', '192.0.2.1', '--ipv6', '2001:db8::1', '--probe', `127.0.0.1:${mxPort}`, '--blocklist', 'bl.test'];

describe('haven doctor', () => {
  it('--json: the directory\'s DKIM key and every record check out; what cannot be right on a test machine fails with its fix', async () => {
    const r = await h.run(['doctor', '--json', ...flags()], { env: { HAVEN_HOSTNAME: MAIL } });
    expect(r.err).toEqual([]);
    const report = JSON.parse(r.out.join('\n')) as DoctorReport;
    const status = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
    for (const id of ['a:mail.doctor.test', 'aaaa:mail.doctor.test', 'mx:doctor.test', 'ptr:ipv4', 'ptr:ipv6', 'spf:doctor.test', 'dmarc:doctor.test', 'mta-sts-txt:doctor.test', 'tls-rpt:doctor.test', 'srv:doctor.test', 'caa:doctor.test', 'caa:mail.doctor.test', 'outbound-smtp', 'dnsbl:192.0.2.1', 'dnsbl:2001:db8::1', 'queue']) {
      expect({ id, status: status[id] }).toEqual({ id, status: 'ok' });
    }
    expect(Object.entries(status).filter(([id]) => id.startsWith('dkim:'))).toEqual([[expect.stringMatching(/^dkim:[a-z0-9-]+\._domainkey\.doctor\.test$/), 'ok']]);
    // No replica configured; the local self-signed certificate does not exist yet; mta-sts.doctor.test is nowhere.
    expect(status.replication).toBe('warn');
    expect(report.checks.find((c) => c.id === 'certificate')).toMatchObject({ status: 'warn', detail: `no readable certificate at ${h.dataDir}/tls/cert.pem yet`, fix: 'run `haven certs renew` (or start the node once)' });
    expect(report.checks.find((c) => c.id === 'mta-sts-policy:doctor.test')).toMatchObject({ status: 'fail', fix: expect.stringContaining('mx: mail.doctor.test') });
    expect(report.ok).toBe(false);
    expect(r.code).toBe(1);
  });

  it('text: one line per check, fixes indented, a summary; the same checks as the JSON', async () => {
    const r = await h.run(['doctor', ...flags()], { env: { HAVEN_HOSTNAME: MAIL } });
    expect(r.code).toBe(1);
    expect(r.out).toContain('OK    Reverse DNS (PTR) of 2001:db8::1: 2001:db8::1 → mail.doctor.test → 2001:db8::1 (forward-confirmed)');
    expect(r.out.find((l) => l.startsWith('FAIL  MTA-STS policy for doctor.test: cannot fetch https://mta-sts.doctor.test/.well-known/mta-sts.txt'))).toBeDefined();
    expect(r.out).toContain('      fix: serve this at https://mta-sts.doctor.test/.well-known/mta-sts.txt over HTTPS with a valid certificate for mta-sts.doctor.test:');
    const json = JSON.parse((await h.run(['doctor', '--json', ...flags()], { env: { HAVEN_HOSTNAME: MAIL } })).out.join('')) as DoctorReport;
    const { ok, warn, fail } = json.summary;
    expect(r.out.at(-1)).toBe(`${ok} OK, ${warn} warnings, ${fail} failed`);
    expect(r.out.filter((l) => /^(OK  |WARN|FAIL)  /.test(l))).toHaveLength(json.checks.length);
  });

  it('says what to pass when it cannot work out the addresses, and refuses bad flags', async () => {
    const bad = await h.run(['doctor', '--ipv4', 'not-an-ip']);
    expect(bad.code).toBe(2);
    expect(bad.err).toEqual(['haven: --ipv4 expects an IPv4 address, got "not-an-ip"']);
  });
});
