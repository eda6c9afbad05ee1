/**
 * @module test/dns/records
 * The DNS record list every consumer shares (infra, admin API, doctor): its
 * exact contents for a domain, the POP3 and ManageSieve switches, the mail
 * host's own SPF record, DKIM/SPF/MTA-STS values and
 * the errors bad input gets.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DMARC_POLICY,
  DMARC_POLICIES,
  DnsInputError,
  MANAGESIEVE_PORT,
  dmarcPolicyProblem,
  spfMechanismProblem,
  formatRecord,
  mailDnsRecords,
  mtaStsPolicy,
  mtaStsPolicyFor,
  mtaStsPolicyId,
  publicKeyBase64,
  type DnsRecord,
  type MailDnsInput,
} from '../../node/dns/index.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = publicKey.export({ type: 'spki', format: 'pem' }) as string;
const DER_B64 = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');

function input(over: Partial<MailDnsInput> = {}): MailDnsInput {
  return {
    domains: [{ name: 'example.com', dkim: { selector: 'haven', publicKey: PEM } }],
    mailHost: 'mail.example.com',
    ipv4: '203.0.113.10',
    ipv6: '2001:db8:1234:5678::1',
    pop3: false,
    ...over,
  };
}

const find = (rs: DnsRecord[], type: DnsRecord['type'], name: string) => rs.filter((r) => r.type === type && r.name === name);

describe('mailDnsRecords', () => {
  it('lists every record a mail domain needs, with exact values', () => {
    const rs = mailDnsRecords(input());
    const lines = rs.map(formatRecord);
    const policyId = mtaStsPolicyId(mtaStsPolicyFor({ mailHost: 'mail.example.com' }));
    expect(lines).toEqual([
      'mail.example.com. 3600 IN A 203.0.113.10',
      'mail.example.com. 3600 IN AAAA 2001:db8:1234:5678::1',
      'mail.example.com. 3600 IN TXT "v=spf1 ip4:203.0.113.10 ip6:2001:db8:1234:5678::1 -all"',
      'example.com. 3600 IN MX 10 mail.example.com.',
      'example.com. 3600 IN TXT "v=spf1 ip4:203.0.113.10 ip6:2001:db8:1234:5678::1 -all"',
      `haven._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=rsa; p=${DER_B64}"`,
      '_dmarc.example.com. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com; adkim=s; aspf=s"',
      `_mta-sts.example.com. 3600 IN TXT "v=STSv1; id=${policyId}"`,
      'mta-sts.example.com. 3600 IN CNAME mail.example.com.',
      '_smtp._tls.example.com. 3600 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@example.com"',
      '_submissions._tcp.example.com. 3600 IN SRV 0 1 465 mail.example.com.',
      '_submission._tcp.example.com. 3600 IN SRV 1 1 587 mail.example.com.',
      '_imap._tcp.example.com. 3600 IN SRV 0 0 0 .',
      '_imaps._tcp.example.com. 3600 IN SRV 0 1 993 mail.example.com.',
      '_sieve._tcp.example.com. 3600 IN SRV 0 1 4190 mail.example.com.',
      '_caldavs._tcp.example.com. 3600 IN SRV 0 1 443 mail.example.com.',
      '_carddavs._tcp.example.com. 3600 IN SRV 0 1 443 mail.example.com.',
      '_autodiscover._tcp.example.com. 3600 IN SRV 0 1 443 mail.example.com.',
      'autoconfig.example.com. 3600 IN CNAME mail.example.com.',
      'autodiscover.example.com. 3600 IN CNAME mail.example.com.',
      'example.com. 3600 IN CAA 0 issue "letsencrypt.org"',
    ]);
    expect(rs.every((r) => r.zone === 'example.com' && r.purpose.length > 0)).toBe(true);
  });

  it('adds _pop3s._tcp only when POP3 is on', () => {
    expect(find(mailDnsRecords(input()), 'SRV', '_pop3s._tcp.example.com')).toEqual([]);
    const [srv] = find(mailDnsRecords(input({ pop3: true })), 'SRV', '_pop3s._tcp.example.com');
    expect(srv).toMatchObject({ port: 995, target: 'mail.example.com', priority: 10 });
  });

  // RFC 5804 §1.8: "_sieve._tcp" names the ManageSieve service; its SRV fields mean what RFC 2782 says and RFC 6186 §3
  // uses for the mail services: priority 0, weight 1, the registered port 4190, the mail host as target.
  it('adds _sieve._tcp (SRV 0 1 4190 <mail host>) in every domain unless ManageSieve is off', () => {
    const two = [
      { name: 'example.com', dkim: { selector: 'haven', publicKey: PEM } },
      { name: 'example.org', dkim: { selector: 'haven', publicKey: PEM } },
    ];
    const on = mailDnsRecords(input({ domains: two }));
    expect(MANAGESIEVE_PORT).toBe(4190);
    for (const zone of ['example.com', 'example.org']) {
      expect(find(on, 'SRV', `_sieve._tcp.${zone}`).map(formatRecord)).toEqual([`_sieve._tcp.${zone}. 3600 IN SRV 0 1 4190 mail.example.com.`]);
      expect(find(on, 'SRV', `_sieve._tcp.${zone}`)[0].zone).toBe(zone);
    }
    expect(mailDnsRecords(input({ domains: two, manageSieve: true }))).toEqual(on);
    const off = mailDnsRecords(input({ domains: two, manageSieve: false }));
    expect(off.filter((r) => r.name.startsWith('_sieve.'))).toEqual([]);
    // Nothing else depends on it.
    expect(off).toEqual(on.filter((r) => !r.name.startsWith('_sieve.')));
  });

  // RFC 7208 §2.3: verifiers check the HELO identity, and §2.4: with a null reverse-path (bounces, DSNs) the MAIL FROM
  // identity is postmaster@<HELO name>. The node's HELO name is the mail host, so it needs its own SPF record.
  it('gives the mail host (the HELO name) its own SPF record, in the zone it is under, without the relay', () => {
    const rs = mailDnsRecords(
      input({
        mailHost: 'mx1.eu.example.com',
        spfExtra: ['include:spf.relay.example.net'],
        domains: [
          { name: 'example.com', dkim: { selector: 'haven', publicKey: PEM } },
          { name: 'eu.example.com', dkim: { selector: 's2', publicKey: PEM } },
        ],
      }),
    );
    // A relay greets with its own name, so its include has no business under the node's HELO name.
    expect(find(rs, 'TXT', 'mx1.eu.example.com')).toMatchObject([{ zone: 'eu.example.com', content: 'v=spf1 ip4:203.0.113.10 ip6:2001:db8:1234:5678::1 -all' }]);
    expect(find(rs, 'TXT', 'example.com')).toMatchObject([{ content: 'v=spf1 ip4:203.0.113.10 ip6:2001:db8:1234:5678::1 include:spf.relay.example.net -all' }]);
  });

  // With a standby (issue 19) the mail host's addresses are Floating IPs that only receive; each node sends from its own
  // address, named <location>.<mail host>, while greeting as the mail host: its HELO identity (RFC 7208 §2.3) must pass.
  it('names the deployment\'s own nodes (a:<location>.<mail host>) in the mail host\'s SPF as well, and never a relay or another host', () => {
    const rs = mailDnsRecords(input({ mailHost: 'mail.example.com', spfExtra: ['include:spf.relay.example.net', 'a:fsn1.mail.example.com', 'a:nbg1.mail.example.com', 'a:other.example.com'] }));
    expect(find(rs, 'TXT', 'mail.example.com')).toMatchObject([{ content: 'v=spf1 ip4:203.0.113.10 ip6:2001:db8:1234:5678::1 a:fsn1.mail.example.com a:nbg1.mail.example.com -all' }]);
    expect(find(rs, 'TXT', 'example.com')).toMatchObject([{ content: 'v=spf1 ip4:203.0.113.10 ip6:2001:db8:1234:5678::1 include:spf.relay.example.net a:fsn1.mail.example.com a:nbg1.mail.example.com a:other.example.com -all' }]);
  });

  it('publishes the DKIM key as the base64 SubjectPublicKeyInfo, from PEM or base64 alike', () => {
    const fromPem = find(mailDnsRecords(input()), 'TXT', 'haven._domainkey.example.com')[0];
    const fromB64 = find(mailDnsRecords(input({ domains: [{ name: 'example.com', dkim: { selector: 'haven', publicKey: DER_B64 } }] })), 'TXT', 'haven._domainkey.example.com')[0];
    expect(fromPem).toEqual(fromB64);
    expect(publicKeyBase64(PEM)).toBe(DER_B64);
    const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => publicKeyBase64(priv)).toThrow(DnsInputError);
  });

  it('SPF names both addresses and any relay before -all, in every domain', () => {
    const two = [
      { name: 'example.com', dkim: { selector: 'haven', publicKey: PEM } },
      { name: 'example.org', dkim: { selector: 'haven', publicKey: PEM } },
    ];
    const rs = mailDnsRecords(input({ domains: two, spfExtra: ['include:spf.relay.example.net', '~ip4:192.0.2.0/24'] }));
    for (const zone of ['example.com', 'example.org']) {
      expect(find(rs, 'TXT', zone)[0]).toMatchObject({ content: 'v=spf1 ip4:203.0.113.10 ip6:2001:db8:1234:5678::1 include:spf.relay.example.net ~ip4:192.0.2.0/24 -all' });
    }
    // Nothing else changes with a relay.
    const plain = mailDnsRecords(input({ domains: two }));
    expect(rs.filter((r) => !(r.type === 'TXT' && r.content.startsWith('v=spf1')))).toEqual(plain.filter((r) => !(r.type === 'TXT' && r.content.startsWith('v=spf1'))));
  });

  it('accepts only SPF mechanisms as extra terms, the same rule infra and the node config use', () => {
    for (const ok of ['include:spf.relay.example', 'ip4:192.0.2.0/24', 'ip6:2001:db8::/32', '?a', 'mx:relay.example/24', 'exists:%{i}.relay.example']) {
      expect(spfMechanismProblem(ok), ok).toBeUndefined();
    }
    for (const bad of ['+all', '-all', 'all', 'include:a b', 'v=spf1', 'redirect=_spf.example', 'ptr:example.com', '']) {
      expect(spfMechanismProblem(bad), bad).toMatch(/SPF mechanism/);
      expect(() => mailDnsRecords(input({ spfExtra: [bad] })), bad).toThrow(DnsInputError);
    }
  });

  it('puts the host records once, in the zone the host is under, and per-domain records in each zone', () => {
    const rs = mailDnsRecords(
      input({
        mailHost: 'MX1.EU.Example.com.',
        domains: [
          { name: 'example.com', dkim: { selector: 'haven', publicKey: PEM } },
          { name: 'eu.example.com', dkim: { selector: 's2', publicKey: PEM } },
          { name: 'example.org', dkim: { selector: 'haven', publicKey: PEM } },
        ],
      }),
    );
    expect(rs.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => [r.name, r.zone])).toEqual([
      ['mx1.eu.example.com', 'eu.example.com'],
      ['mx1.eu.example.com', 'eu.example.com'],
    ]);
    expect(find(rs, 'MX', 'example.org')[0]).toMatchObject({ zone: 'example.org', content: 'mx1.eu.example.com' });
    expect(find(rs, 'TXT', 's2._domainkey.eu.example.com')).toHaveLength(1);
    const keys = rs.filter((r) => r.type !== 'CAA').map((r) => `${r.type} ${r.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const r of rs) expect(r.name).toMatch(/^[a-z0-9._-]+[a-z0-9]$/);
  });

  it('honours DMARC policy, report address, CAA issuers, web host and TTL', () => {
    const rs = mailDnsRecords(input({ dmarcPolicy: 'reject', reportAddress: (d) => `reports@${d}`, caaIssuers: ['letsencrypt.org', 'sectigo.com'], webHost: 'web.example.com', ttl: 300 }));
    expect(find(rs, 'TXT', '_dmarc.example.com')[0]).toMatchObject({ content: 'v=DMARC1; p=reject; rua=mailto:reports@example.com; adkim=s; aspf=s' });
    expect(find(rs, 'CAA', 'example.com').map((r) => r.type === 'CAA' && r.value)).toEqual(['letsencrypt.org', 'sectigo.com']);
    expect(find(rs, 'CNAME', 'mta-sts.example.com')[0]).toMatchObject({ content: 'web.example.com' });
    expect(rs.every((r) => r.ttl === 300)).toBe(true);
  });

  it('publishes each DMARC policy as given, quarantine by default (the node option and haven:dmarcPolicy share the list)', () => {
    expect(DMARC_POLICIES).toEqual(['none', 'quarantine', 'reject']);
    expect(DEFAULT_DMARC_POLICY).toBe('quarantine');
    const two = [
      { name: 'example.com', dkim: { selector: 'haven', publicKey: PEM } },
      { name: 'example.org', dkim: { selector: 'haven', publicKey: PEM } },
    ];
    const plain = mailDnsRecords(input({ domains: two }));
    const notDmarc = (rs: DnsRecord[]) => rs.filter((r) => !r.name.startsWith('_dmarc.'));
    for (const p of DMARC_POLICIES) {
      const rs = mailDnsRecords(input({ domains: two, dmarcPolicy: p }));
      for (const zone of ['example.com', 'example.org']) {
        expect(find(rs, 'TXT', `_dmarc.${zone}`).map((r) => 'content' in r && r.content)).toEqual([`v=DMARC1; p=${p}; rua=mailto:postmaster@${zone}; adkim=s; aspf=s`]);
      }
      // Nothing else depends on the policy.
      expect(notDmarc(rs)).toEqual(notDmarc(plain));
      expect(dmarcPolicyProblem(p)).toBeUndefined();
    }
    expect(find(plain, 'TXT', '_dmarc.example.com')[0]).toMatchObject({ content: 'v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com; adkim=s; aspf=s' });
    for (const bad of ['Reject', 'strict', '', 'none ']) {
      expect(dmarcPolicyProblem(bad), bad).toBe('a DMARC policy: one of none, quarantine, reject');
      expect(() => mailDnsRecords(input({ dmarcPolicy: bad as never })), bad).toThrow(DnsInputError);
    }
  });

  it('refuses bad input with a message that says what to do', () => {
    expect(() => mailDnsRecords(input({ mailHost: 'mail.other.net' }))).toThrow(/not under any mail domain.*use a host like mail\.example\.com/);
    expect(() => mailDnsRecords(input({ mailHost: 'example.com' }))).toThrow(/must not be a mail domain itself/);
    expect(() => mailDnsRecords(input({ ipv4: '203.0.113.256' }))).toThrow(/not an IPv4 address/);
    expect(() => mailDnsRecords(input({ ipv6: '2001:db8::1::2' }))).toThrow(/not an IPv6 address/);
    expect(() => mailDnsRecords(input({ domains: [] }))).toThrow(/at least one domain/);
    expect(() => mailDnsRecords(input({ domains: [{ name: 'example.com', dkim: { selector: 'a.b', publicKey: PEM } }] }))).toThrow(/single DNS label/);
    expect(() =>
      mailDnsRecords(input({ domains: [{ name: 'example.com', dkim: { selector: 'a', publicKey: PEM } }, { name: 'Example.com', dkim: { selector: 'a', publicKey: PEM } }] })),
    ).toThrow(/listed twice/);
    expect(() => mailDnsRecords(input({ mailHost: 'localhost' }))).toThrow(DnsInputError);
  });
});

describe('MTA-STS', () => {
  it('renders the RFC 8461 policy with CRLF line ends', () => {
    expect(mtaStsPolicy({ mode: 'enforce', mx: ['Mail.Example.com'], maxAgeSeconds: 604800 })).toBe('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n');
    expect(mtaStsPolicyFor({ mailHost: 'mail.example.com', mtaStsMode: 'testing', mtaStsMaxAgeSeconds: 86400 })).toBe('version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 86400\r\n');
  });

  it('derives a valid policy id that changes exactly when the policy does', () => {
    const a = mtaStsPolicyFor({ mailHost: 'mail.example.com' });
    const id = mtaStsPolicyId(a);
    expect(id).toMatch(/^[a-zA-Z0-9]{1,32}$/);
    expect(mtaStsPolicyId(mtaStsPolicyFor({ mailHost: 'mail.example.com' }))).toBe(id);
    expect(mtaStsPolicyId(mtaStsPolicyFor({ mailHost: 'mail.example.com', mtaStsMode: 'testing' }))).not.toBe(id);
    expect(mtaStsPolicyId(mtaStsPolicyFor({ mailHost: 'mx.example.com' }))).not.toBe(id);
    const txt = mailDnsRecords(input({ mtaStsMode: 'testing' })).find((r) => r.name === '_mta-sts.example.com');
    expect(txt).toMatchObject({ content: `v=STSv1; id=${mtaStsPolicyId(mtaStsPolicyFor({ mailHost: 'mail.example.com', mtaStsMode: 'testing' }))}` });
  });
});
