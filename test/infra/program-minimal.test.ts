/**
 * @module test/infra/program-minimal
 * The program with the switches the other way: POP3 off, one admin address,
 * no smarthost or webhook, `retainData: false`, and no edge Worker entry yet.
 * The program must still load and deploy the node and DNS.
 */
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { baseConfig, extractBundle, installMocks, type MockWorld, reveal, runProgram, SECRETS } from './harness.js';

let world: MockWorld;
let program: typeof import('../../infra/index.js');
const options = new Map<string, pulumi.CustomResourceOptions>();

async function bundleFile(path: string): Promise<string> {
  const files = await extractBundle(world.one('command:remote:Command').inputs.stdin);
  return files.get(path)!.content;
}

beforeAll(async () => {
  const config = baseConfig({
    'haven:domains': JSON.stringify(['example.com']),
    'haven:mailHost': '',
    'haven:pop3': 'false',
    'haven:adminSourceIps': JSON.stringify(['0.0.0.0/0', '::/0']),
    'haven:edgeEntry': 'test/infra/fixtures/no-such-worker.ts',
    'haven:retainData': 'false',
  });
  delete config['haven:smarthost'];
  delete config['haven:dmarcPolicy'];
  delete config['haven:alertWebhook'];
  world = await installMocks(config);
  program = await runProgram(options);
});

describe('minimal stack', () => {
  it('loads without an edge entry and deploys no Worker', () => {
    expect(program.adminUrl).toBeUndefined();
    expect(world.resources.filter((r) => r.type.startsWith('cloudflare:index/workers'))).toEqual([]);
    expect(world.byType('hcloud:index/server:Server')).toHaveLength(1);
  });

  it('defaults the mail host to mail.<first domain>', () => {
    expect(world.one('hcloud:index/rdns:Rdns', 'haven-ptr-ipv4').inputs.dnsPtr).toBe('mail.example.com');
    expect(program.mailHost).toBe('mail.example.com');
  });

  it('opens no POP3 port, and publishes no POP3 record', async () => {
    const ports = (world.one('hcloud:index/firewall:Firewall').inputs.rules as { port?: string; protocol: string }[]).map((r) => r.port ?? r.protocol);
    expect(ports).toEqual(['25', '465', '587', '993', '4190', '80', '443', 'icmp', '22']);
    expect(world.byType('cloudflare:index/dnsRecord:DnsRecord').filter((r) => r.inputs.name.startsWith('_pop3'))).toEqual([]);
    expect(parseYaml(await bundleFile('/etc/haven/haven.yaml')).pop3.enabled).toBe(false);
  });

  it('publishes the default DMARC policy and tells the node the same one', async () => {
    const cfg = parseYaml(await bundleFile('/etc/haven/haven.yaml'));
    expect(cfg.dmarcPolicy).toBe('quarantine');
    expect(world.byType('cloudflare:index/dnsRecord:DnsRecord').filter((r) => r.inputs.name === '_dmarc.example.com').map((r) => r.inputs.content)).toEqual(['v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com; adkim=s; aspf=s']);
  });

  it('leaves the smarthost out of the node environment when none is set', async () => {
    const env = await bundleFile('/etc/haven/haven.env');
    expect(env).not.toContain('HAVEN_SMARTHOST');
    expect(env).toContain(`HAVEN_ADMIN_SECRET="${SECRETS.edgeSecret}"`);
  });

  it('retainData false lifts both protections and lets destroy delete the volume, addresses and bucket', () => {
    for (const name of ['haven-data', 'haven-ipv4', 'haven-ipv6', 'haven-replica-bucket']) {
      expect(options.get(name)?.retainOnDelete, name).toBe(false);
      expect(options.get(name)?.protect, name).toBe(false);
    }
    for (const r of [...world.byType('hcloud:index/primaryIp:PrimaryIp'), world.one('hcloud:index/volume:Volume')]) expect(r.inputs.deleteProtection, r.name).toBe(false);
    expect(reveal(world.one('cloudflare:index/r2Bucket:R2Bucket').raw).name).toBe('haven-test-replica');
  });
});
