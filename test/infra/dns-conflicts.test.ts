/**
 * @module test/infra/dns-conflicts
 * Records a zone already holds (a previous provider's MX, a hand-made SPF,
 * an autodiscover CNAME) are named in a warning before Haven creates its
 * own: the pure rule (RFC 1034 §3.6.2: a CNAME stands alone; RFC 7208 §3.2:
 * two SPF records are a permerror; RFC 7489 §6.6.3: two DMARC records mean
 * none applies), and the program under Pulumi's mocks, whose getDnsRecords
 * answers with such a zone, warning through Pulumi's log at preview.
 */
import * as pulumi from '@pulumi/pulumi';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { conflicts } from '../../infra/dns-conflicts.js';
import { mailDnsRecords } from '../../node/dns/index.js';
import { baseConfig, installMocks, settle, valueOf, type MockWorld, type ZoneRecord } from './harness.js';

const planned = mailDnsRecords({
  domains: [{ name: 'example.com', dkim: { selector: 'haven', publicKey: 'AA==' } }],
  mailHost: 'mail.example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  pop3: false,
});

describe('conflicts', () => {
  it('names a second SPF, a second DMARC, a foreign MX and records where Haven puts a CNAME', () => {
    const existing: ZoneRecord[] = [
      { name: 'example.com', type: 'TXT', content: '"v=spf1 include:_spf.oldmail.example ~all"' },
      { name: '_dmarc.example.com', type: 'TXT', content: 'v=DMARC1; p=none' },
      { name: 'example.com', type: 'MX', content: 'mx.oldmail.example' },
      { name: 'autoconfig.example.com', type: 'A', content: '198.51.100.20' },
      { name: 'mail.example.com', type: 'A', content: '198.51.100.21' },
    ];
    const w = conflicts(planned, existing);
    expect(w).toHaveLength(5);
    expect(w[0]).toMatch(/^DNS zone example\.com already has TXT example\.com "v=spf1 include:_spf\.oldmail\.example ~all".*two v=spf1 records/);
    expect(w[1]).toMatch(/TXT _dmarc\.example\.com .*two v=DMARC1 records/);
    expect(w[2]).toMatch(/MX example\.com .*another MX/);
    expect(w[3]).toMatch(/A autoconfig\.example\.com .*CNAME must stand alone/);
    expect(w[4]).toMatch(/A mail\.example\.com .*second A/);
    for (const line of w) expect(line).toMatch(/Delete it in Cloudflare \(DNS > Records\) and run pulumi up again/);
  });

  it('leaves alone Haven\'s own records, other TXT records and names Haven does not use', () => {
    const existing: ZoneRecord[] = [
      { name: 'example.com', type: 'TXT', content: 'v=spf1 ip4:192.0.2.1 -all', comment: 'haven: SPF' },
      { name: 'example.com', type: 'TXT', content: 'google-site-verification=abc' },
      { name: 'www.example.com', type: 'CNAME', content: 'example.github.io' },
      { name: 'example.com', type: 'A', content: '198.51.100.30' },
    ];
    expect(conflicts(planned, existing)).toEqual([]);
  });
});

describe('the program at preview', () => {
  let world: MockWorld;
  const warnings: string[] = [];
  let restore: () => void;

  beforeAll(async () => {
    const spy = vi.spyOn(pulumi.log, 'warn').mockImplementation(async (msg: string) => {
      warnings.push(msg);
    });
    restore = () => spy.mockRestore();
    world = await installMocks(baseConfig({ 'haven:edgeEntry': 'test/infra/fixtures/no-such-worker.ts' }), undefined, {
      existingRecords: {
        'example.org': [
          { name: 'example.org', type: 'TXT', content: 'v=spf1 include:spf.protection.outlook.com -all' },
          { name: 'autodiscover.example.org', type: 'CNAME', content: 'autodiscover.outlook.com' },
        ],
      },
    });
    let program: typeof import('../../infra/index.js') | undefined;
    await pulumi.runtime.runInPulumiStack(async () => {
      program = await import('../../infra/index.js');
      return {};
    });
    await valueOf(program!.dnsRecords);
    await settle();
  });
  afterAll(() => restore());

  it('reads every zone\'s records once', () => {
    expect(world.calls.filter((c) => c.token === 'cloudflare:index/getDnsRecords:getDnsRecords').map((c) => c.inputs.zoneId).sort()).toEqual(['zone-example.com', 'zone-example.org']);
  });

  it('warns about the old provider\'s SPF and autodiscover CNAME, and about nothing else', () => {
    const dns = warnings.filter((w) => w.startsWith('DNS zone'));
    expect(dns).toHaveLength(2);
    expect(dns[0]).toContain('TXT example.org "v=spf1 include:spf.protection.outlook.com -all"');
    expect(dns[1]).toContain('CNAME autodiscover.example.org "autodiscover.outlook.com"');
  });
});
