/**
 * @module test/infra/program-standby
 * The Pulumi program under Pulumi's mocks with haven:standby on (issue 19):
 * two servers in two locations of one network zone from the same bootstrap,
 * the mail host on two Hetzner Floating IPs (IPv4 and IPv6) with their PTR,
 * protected like the primary IPs and assigned to the primary, both servers
 * configuring them on their interface, each node's role and the Floating IP
 * ids, its server id and the reassignment token in its SSH-delivered bundle
 * (the token nowhere else), DNS pointing at the Floating IPs, and the
 * Worker's STANDBY_URL and FAILOVER_AFTER_SECONDS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { renderCloudInit } from '../../infra/cloud-init.js';
import { firewallRules } from '../../infra/node.js';
import { loadConfig } from '../../node/config/index.js';
import {
  baseConfig,
  extractBundle,
  FLOATING,
  installMocks,
  IPV4,
  IPV6_HOST,
  type MockWorld,
  plainStrings,
  reveal,
  runProgram,
  SECRETS,
  STANDBY,
  valueOf,
  VOLUME_ID,
} from './harness.js';

const T = {
  primaryIp: 'hcloud:index/primaryIp:PrimaryIp',
  floatingIp: 'hcloud:index/floatingIp:FloatingIp',
  assignment: 'hcloud:index/floatingIpAssignment:FloatingIpAssignment',
  firewall: 'hcloud:index/firewall:Firewall',
  volume: 'hcloud:index/volume:Volume',
  server: 'hcloud:index/server:Server',
  rdns: 'hcloud:index/rdns:Rdns',
  sshKey: 'hcloud:index/sshKey:SshKey',
  dns: 'cloudflare:index/dnsRecord:DnsRecord',
  script: 'cloudflare:index/workersScript:WorkersScript',
  command: 'command:remote:Command',
};

const HETZNER_TOKEN = 'hcloud-failover-token-'.padEnd(64, 'z');

let world: MockWorld;
let program: typeof import('../../infra/index.js');
const options = new Map<string, pulumi.CustomResourceOptions>();
type Bundle = Map<string, { content: string; mode: number }>;
const bundles: Record<'primary' | 'standby', Bundle> = {} as Record<'primary' | 'standby', Bundle>;

beforeAll(async () => {
  world = await installMocks(
    baseConfig({ 'haven:standby': 'true', 'haven:standbyLocation': 'nbg1', 'haven:failoverHetznerToken': HETZNER_TOKEN }),
    [...Object.keys(SECRETS), 'failoverHetznerToken'].map((k) => `haven:${k}`),
  );
  program = await runProgram(options);
  bundles.primary = await extractBundle(world.one(T.command, 'haven-config').inputs.stdin);
  bundles.standby = await extractBundle(world.one(T.command, 'haven-standby-config').inputs.stdin);
});

const file = (b: Bundle, path: string) => {
  const f = b.get(path);
  if (!f) throw new Error(`the bundle holds no ${path}`);
  return f;
};

describe('two servers', () => {
  it('one per location, fsn1 (the primary) and nbg1 (the standby), each with its own volume, addresses and firewall', () => {
    const servers = Object.fromEntries(world.byType(T.server).map((r) => [r.name, r.inputs]));
    expect(Object.keys(servers).sort()).toEqual(['haven-server', 'haven-standby-server']);
    expect(servers['haven-server']).toMatchObject({ name: 'mail.example.com', location: 'fsn1', firewallIds: [3003], publicNets: [{ ipv4: 1001, ipv6: 1002 }] });
    expect(servers['haven-standby-server']).toMatchObject({
      name: 'haven-test-standby-server',
      location: 'nbg1',
      firewallIds: [Number(STANDBY.firewallId)],
      publicNets: [{ ipv4Enabled: true, ipv4: Number(STANDBY.ipv4Id), ipv6Enabled: true, ipv6: Number(STANDBY.ipv6Id) }],
    });
    expect(world.one(T.volume, 'haven-standby-data').inputs).toMatchObject({ name: 'haven-test-standby-data', location: 'nbg1', format: 'ext4', deleteProtection: true });
    expect(world.byType(T.primaryIp)).toHaveLength(4);
    // Hetzner names are unique per project: every one carries the stack, the standby's its slot too.
    const names = [T.primaryIp, T.volume, T.firewall, T.sshKey, T.floatingIp].flatMap((t) => world.byType(t).map((r) => r.inputs.name as string));
    expect(new Set(names).size).toBe(names.length);
    expect(names.every((n) => n.startsWith('haven-test-'))).toBe(true);
  });

  it('the standby has the primary\'s firewall rules: it serves mail on the Floating IPs once promoted, and the edge reaches its HTTPS before', () => {
    const rules = (name: string) => world.one(T.firewall, name).inputs.rules;
    expect(rules('haven-standby-firewall')).toEqual(rules('haven-firewall'));
    const expected = firewallRules({ pop3: true, adminSourceIps: ['198.51.100.7/32', '2001:db8:beef::/48'] });
    expect(rules('haven-standby-firewall').map((r: { port?: string }) => r.port ?? 'icmp')).toEqual(expected.map((r) => r.port ?? 'icmp'));
    expect(rules('haven-standby-firewall')).toContainEqual(expect.objectContaining({ port: '443', sourceIps: ['0.0.0.0/0', '::/0'] }));
  });

  it('both boot from the same bootstrap (only the volume differs), which holds no secret: the primary\'s is what it would be without a standby', () => {
    const primary = world.one(T.server, 'haven-server').inputs.userData as string;
    const standby = world.one(T.server, 'haven-standby-server').inputs.userData as string;
    const single = renderCloudInit({ mailHost: 'mail.example.com', volumeId: VOLUME_ID, havenRelease: 'https://releases.example.net/haven-0.1.0.tgz' });
    expect(primary).toBe(single);
    expect(standby).toBe(renderCloudInit({ mailHost: 'mail.example.com', volumeId: STANDBY.volumeId, havenRelease: 'https://releases.example.net/haven-0.1.0.tgz' }));
    expect(standby.replaceAll(`scsi-0HC_Volume_${STANDBY.volumeId}`, `scsi-0HC_Volume_${VOLUME_ID}`)).toBe(primary);
    for (const ud of [primary, standby]) {
      expect(ud).not.toContain(HETZNER_TOKEN);
      expect(ud).not.toMatch(/role|floating|hetznerToken/i);
      for (const s of Object.values(SECRETS)) expect(ud).not.toContain(s);
    }
  });

  it('the standby\'s volume and addresses are protected and kept like the primary\'s: after a failover they hold the primary', () => {
    for (const name of ['haven-standby-data', 'haven-standby-ipv4', 'haven-standby-ipv6']) {
      expect(options.get(name)?.protect, name).toBe(true);
      expect(options.get(name)?.retainOnDelete, name).toBe(true);
    }
  });
});

describe('Floating IPs (Hetzner Cloud API: Floating IPs; Floating IP Actions: assign, change_dns_ptr)', () => {
  it('one IPv4 and one IPv6, homed at the primary, with Hetzner delete protection, Pulumi protect, kept on destroy', () => {
    const ips = world.byType(T.floatingIp);
    expect(ips.map((r) => r.inputs.type).sort()).toEqual(['ipv4', 'ipv6']);
    for (const r of ips) {
      expect(r.inputs).toMatchObject({ name: `haven-test-floating-${r.inputs.type}`, homeLocation: 'fsn1', deleteProtection: true, labels: { app: 'haven', stack: 'test' } });
      // No serverId on the address itself: assignment is its own resource, so moving it never replaces the address.
      expect(r.inputs.serverId).toBeUndefined();
      expect(options.get(r.name)?.protect, r.name).toBe(true);
      expect(options.get(r.name)?.retainOnDelete, r.name).toBe(true);
    }
  });

  it('their reverse DNS names the mail host (the PTR belongs to the address and moves with it); the IPv6 PTR is for the ::1 of the /64', () => {
    const ptr = Object.fromEntries(world.byType(T.rdns).map((r) => [r.name, r.inputs]));
    expect(ptr['haven-floating-ptr-ipv4']).toEqual({ floatingIpId: Number(FLOATING.ipv4Id), ipAddress: FLOATING.ipv4, dnsPtr: 'mail.example.com' });
    expect(ptr['haven-floating-ptr-ipv6']).toEqual({ floatingIpId: Number(FLOATING.ipv6Id), ipAddress: FLOATING.ipv6Host, dnsPtr: 'mail.example.com' });
    // Each node's own addresses are named after the node, and that name resolves back to them (RFC 1912 §2.1):
    // outbound mail leaves from them, so receivers' forward-confirmed reverse DNS holds.
    expect(ptr['haven-ptr-ipv4']).toMatchObject({ ipAddress: IPV4, dnsPtr: 'fsn1.mail.example.com' });
    expect(ptr['haven-ptr-ipv6']).toMatchObject({ ipAddress: IPV6_HOST, dnsPtr: 'fsn1.mail.example.com' });
    expect(ptr['haven-standby-ptr-ipv4']).toMatchObject({ primaryIpId: Number(STANDBY.ipv4Id), ipAddress: STANDBY.ipv4, dnsPtr: 'nbg1.mail.example.com' });
    expect(ptr['haven-standby-ptr-ipv6']).toMatchObject({ primaryIpId: Number(STANDBY.ipv6Id), ipAddress: STANDBY.ipv6Host, dnsPtr: 'nbg1.mail.example.com' });
  });

  it('both are assigned to the primary\'s server', () => {
    const a = world.byType(T.assignment).map((r) => r.inputs);
    expect(a).toHaveLength(2);
    expect(a.map((x) => x.floatingIpId).sort()).toEqual([Number(FLOATING.ipv4Id), Number(FLOATING.ipv6Id)]);
    expect(a.every((x) => x.serverId === 5005)).toBe(true);
  });

  it('each server configures both addresses on its interface over SSH, and removes them when standby is turned off', () => {
    for (const name of ['haven-floating-ip', 'haven-standby-floating-ip']) {
      const c = world.one(T.command, name).inputs;
      expect(c.create).toContain(`V4=${FLOATING.ipv4}`);
      expect(c.create).toContain(`V6=${FLOATING.ipv6Host}`);
      expect(c.create).toContain('ip addr replace "$V4/32" dev "$if"');
      expect(c.delete).toContain('ip addr del "$V4/32"');
      expect(c.connection.host).toBe(name.startsWith('haven-standby') ? STANDBY.ipv4 : IPV4);
    }
  });
});

describe('configuration bundles', () => {
  const nodeConfig = (b: Bundle) => parseYaml(file(b, '/etc/haven/haven.yaml').content);

  it('each node gets its role, the Floating IP ids, its own server id, its own name (the standby\'s certificate names it: the edge calls https://<location>.<mail host>) and the other node\'s name for its witness', () => {
    expect(nodeConfig(bundles.primary)).toMatchObject({ role: 'primary', failover: { floatingIps: [FLOATING.ipv4Id, FLOATING.ipv6Id], hetznerServerId: '5005', nodeHost: 'fsn1.mail.example.com', fenceLeaseMs: 3000, witness: { host: 'nbg1.mail.example.com', smtpPort: 587 } } });
    expect(nodeConfig(bundles.standby)).toMatchObject({ role: 'standby', failover: { floatingIps: [FLOATING.ipv4Id, FLOATING.ipv6Id], hetznerServerId: STANDBY.serverId, nodeHost: 'nbg1.mail.example.com', fenceLeaseMs: 3000, witness: { host: 'fsn1.mail.example.com', smtpPort: 587 } } });
    // Same replica, same master key: the standby follows what the primary writes.
    expect(nodeConfig(bundles.standby).replicaUrl).toBe(nodeConfig(bundles.primary).replicaUrl);
    expect(file(bundles.standby, '/etc/haven/credentials/master-key').content).toBe(file(bundles.primary, '/etc/haven/credentials/master-key').content);
  });

  it('both nodes send from the mail host\'s Floating IPs (outbound.sourceAddresses): the connecting address\'s PTR names the mail host the nodes greet as (RFC 5321 §4.1.1.1, RFC 7208 §2.3)', () => {
    for (const b of [bundles.primary, bundles.standby]) {
      expect(nodeConfig(b).outbound).toEqual({ sourceAddresses: [FLOATING.ipv4, FLOATING.ipv6Host] });
      const dir = mkdtempSync(join(tmpdir(), 'haven-standby-source-'));
      try {
        writeFileSync(join(dir, 'haven.yaml'), file(b, '/etc/haven/haven.yaml').content);
        expect(loadConfig({ env: {}, file: join(dir, 'haven.yaml') }).outbound.sourceAddresses).toEqual([FLOATING.ipv4, FLOATING.ipv6Host]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('the Hetzner token is in the root-only environment file alone, and the node loads it as failover.hetznerToken', () => {
    for (const b of [bundles.primary, bundles.standby]) {
      const env = file(b, '/etc/haven/haven.env');
      expect(env.mode).toBe(0o600);
      expect(env.content).toContain(`HAVEN_FAILOVER_HETZNER_TOKEN="${HETZNER_TOKEN}"`);
      for (const [path, f] of b) if (path !== '/etc/haven/haven.env') expect(f.content, path).not.toContain(HETZNER_TOKEN);
      const dir = mkdtempSync(join(tmpdir(), 'haven-standby-'));
      try {
        writeFileSync(join(dir, 'haven.yaml'), file(b, '/etc/haven/haven.yaml').content);
        const config = loadConfig({ env: { HAVEN_FAILOVER_HETZNER_TOKEN: HETZNER_TOKEN }, file: join(dir, 'haven.yaml') });
        expect(config.failover.hetznerToken).toBe(HETZNER_TOKEN);
        expect(config.failover.floatingIps).toEqual([FLOATING.ipv4Id, FLOATING.ipv6Id]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('the token never reaches the engine as a plain value: only inside secrets', () => {
    for (const r of world.resources) {
      for (const s of plainStrings(r.raw)) expect(s.value, `${r.type} ${r.name} ${s.path}`).not.toContain(HETZNER_TOKEN);
    }
    expect(options.get('haven-standby-config')?.additionalSecretOutputs).toContain('stdin');
  });
});

describe('DNS and the edge', () => {
  const record = (name: string) => world.one(T.dns, name).inputs;

  it('the mail host\'s A and AAAA are the Floating IPs; the MX names the mail host', () => {
    expect(record('haven-dns-A-mail.example.com')).toMatchObject({ content: FLOATING.ipv4, proxied: false });
    expect(record('haven-dns-AAAA-mail.example.com')).toMatchObject({ content: FLOATING.ipv6Host, proxied: false });
    expect(record('haven-dns-MX-example.com')).toMatchObject({ content: 'mail.example.com' });
    expect(world.byType(T.dns).filter((r) => r.inputs.content === IPV4 || r.inputs.content === STANDBY.ipv4).map((r) => r.inputs.name).sort()).toEqual(['fsn1.mail.example.com', 'nbg1.mail.example.com']);
  });

  it('each node has its own name for its own addresses', () => {
    expect(record('haven-host-fsn1-A')).toMatchObject({ zoneId: 'zone-example.com', name: 'fsn1.mail.example.com', type: 'A', content: IPV4, proxied: false });
    expect(record('haven-host-fsn1-AAAA')).toMatchObject({ name: 'fsn1.mail.example.com', type: 'AAAA', content: IPV6_HOST });
    expect(record('haven-host-nbg1-A')).toMatchObject({ name: 'nbg1.mail.example.com', type: 'A', content: STANDBY.ipv4 });
    expect(record('haven-host-nbg1-AAAA')).toMatchObject({ name: 'nbg1.mail.example.com', type: 'AAAA', content: STANDBY.ipv6Host });
  });

  it('SPF covers the addresses mail leaves from (each node\'s own, one a: lookup each, RFC 7208 §4.6.4), and the nodes expect the same record', () => {
    const spf = 'v=spf1 ip4:198.51.100.80 ip6:2001:db8:f100:f100::1 include:spf.relay.example a:fsn1.mail.example.com a:nbg1.mail.example.com -all';
    expect(record('haven-dns-TXT-example.com').content).toBe(spf);
    expect(record('haven-dns-TXT-example.org').content).toBe(spf);
    // The HELO name's own record (RFC 7208 §2.3: bounces are judged by it): the nodes greet as the mail host from
    // their own addresses, so it names them too; the relay greets with its own name and stays out.
    expect(record('haven-dns-TXT-mail.example.com').content).toBe('v=spf1 ip4:198.51.100.80 ip6:2001:db8:f100:f100::1 a:fsn1.mail.example.com a:nbg1.mail.example.com -all');
    for (const b of [bundles.primary, bundles.standby]) {
      expect(parseYaml(file(b, '/etc/haven/haven.yaml').content).spfExtra).toEqual(['include:spf.relay.example', 'a:fsn1.mail.example.com', 'a:nbg1.mail.example.com']);
    }
  });

  it('the Worker promotes the standby at its own name after FAILOVER_AFTER_SECONDS (300 by default)', () => {
    const texts = Object.fromEntries((reveal(world.one(T.script).raw.bindings) as { name: string; text?: string; type: string }[]).map((b) => [b.name, b]));
    expect(texts.STANDBY_URL).toMatchObject({ type: 'plain_text', text: 'https://nbg1.mail.example.com' });
    expect(texts.FAILOVER_AFTER_SECONDS).toMatchObject({ type: 'plain_text', text: '300' });
    // The probe still asks the mail host, which answers on the Floating IPs wherever they are.
    expect(texts.NODE_URL).toMatchObject({ text: 'https://mail.example.com' });
  });

  it('outputs the mail host\'s (floating) addresses and how to reach each node', async () => {
    expect(await valueOf(program.ipv4)).toBe(FLOATING.ipv4);
    expect(await valueOf(program.ipv6)).toBe(FLOATING.ipv6Host);
    expect(await valueOf(program.ssh)).toBe(`ssh root@${IPV4}`);
    expect(await valueOf(program.standbySsh!)).toBe(`ssh root@${STANDBY.ipv4}`);
  });
});
