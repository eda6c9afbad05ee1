/**
 * @module test/infra/program
 * The Pulumi program under Pulumi's mocks, with POP3 on, admin SSH addresses
 * and the edge Worker behind Cloudflare Access: every resource and its key properties, address/PTR/
 * EHLO agreement, SPF, DKIM key ↔ record, firewall ports, secrets, and DNS
 * records equal to node/dns for the same inputs.
 */
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as command from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../node/config/index.js';
import { formatRecord, mailDnsRecords, publicKeyBase64, type DnsRecord } from '../../node/dns/index.js';
import { doctorDepsFor, doctorDnsInput } from '../../node/doctor/index.js';
import { r2SecretAccessKey } from '../../infra/replica.js';
import {
  baseConfig,
  extractBundle,
  installMocks,
  IPV4,
  IPV6_HOST,
  isSecretWrapped,
  type MockWorld,
  plainStrings,
  R2_GROUP_ID,
  R2_READ_GROUP_ID,
  type Recorded,
  reveal,
  runProgram,
  SECRETS,
  TOKEN_ID,
  TOKEN_VALUE,
  valueOf,
  VOLUME_ID,
} from './harness.js';

const T = {
  sshKey: 'hcloud:index/sshKey:SshKey',
  primaryIp: 'hcloud:index/primaryIp:PrimaryIp',
  firewall: 'hcloud:index/firewall:Firewall',
  volume: 'hcloud:index/volume:Volume',
  server: 'hcloud:index/server:Server',
  attachment: 'hcloud:index/volumeAttachment:VolumeAttachment',
  rdns: 'hcloud:index/rdns:Rdns',
  dns: 'cloudflare:index/dnsRecord:DnsRecord',
  bucket: 'cloudflare:index/r2Bucket:R2Bucket',
  token: 'cloudflare:index/accountToken:AccountToken',
  script: 'cloudflare:index/workersScript:WorkersScript',
  kv: 'cloudflare:index/workersKvNamespace:WorkersKvNamespace',
  customDomain: 'cloudflare:index/workersCustomDomain:WorkersCustomDomain',
  cron: 'cloudflare:index/workersCronTrigger:WorkersCronTrigger',
  key: 'tls:index/privateKey:PrivateKey',
  command: 'command:remote:Command',
};

/** A Cloudflare Access audience tag (64 hex characters). */
const ACCESS_AUD = 'a1b2c3d4'.repeat(8);
let world: MockWorld;
let program: typeof import('../../infra/index.js');
/** Resource options as the program passed them, by resource name (stack transformations see them). */
const options = new Map<string, pulumi.CustomResourceOptions>();
let cloudInit: any;
/** The configuration bundle the remote command hands the node, as GNU tar extracts it. */
let bundle: Map<string, { content: string; mode: number }>;

function writeFile(path: string): string {
  const f = bundle.get(path);
  if (!f) throw new Error(`the configuration bundle holds no ${path}`);
  return f.content;
}

beforeAll(async () => {
  world = await installMocks(baseConfig({ 'haven:accessAud': ACCESS_AUD, 'haven:accessTeam': 'myteam' }));
  program = await runProgram(options);
  const userData = world.one(T.server).inputs.userData as string;
  expect(userData.startsWith('#cloud-config\n')).toBe(true);
  cloudInit = parseYaml(userData);
  bundle = await extractBundle(world.one(T.command).inputs.stdin);
});

describe('resources', () => {
  it('creates exactly the expected resources', () => {
    const count = (type: string) => world.byType(type).length;
    expect({
      sshKey: count(T.sshKey), primaryIp: count(T.primaryIp), firewall: count(T.firewall), volume: count(T.volume), server: count(T.server),
      attachment: count(T.attachment), rdns: count(T.rdns), bucket: count(T.bucket), token: count(T.token), script: count(T.script), kv: count(T.kv),
      customDomain: count(T.customDomain), cron: count(T.cron), key: count(T.key), command: count(T.command),
    }).toEqual({ sshKey: 1, primaryIp: 2, firewall: 1, volume: 1, server: 1, attachment: 1, rdns: 2, bucket: 1, token: 1, script: 1, kv: 1, customDomain: 1, cron: 1, key: 3, command: 1 });
    // node/dns: 2 host records + per domain (MX, SPF, DKIM, DMARC, MTA-STS TXT+CNAME, TLS-RPT, 8 SRV with POP3, 2 CNAME, CAA) = 2 + 2 * 18;
    // infra adds SPF for the mail host and a _sieve._tcp SRV per domain.
    expect(count(T.dns)).toBe(38 + 1 + 2);
    const known = new Set([...Object.values(T), 'pulumi:pulumi:Stack', 'haven:infra:Node', 'haven:infra:Dns', 'haven:infra:ReplicaBucket', 'haven:infra:EdgeWorker']);
    expect(world.resources.filter((r) => !known.has(r.type)).map((r) => r.type)).toEqual([]);
  });

  it('the volume, both addresses and the bucket are protected in Hetzner and in Pulumi, and kept on destroy', () => {
    for (const type of ['ipv4', 'ipv6']) {
      const ip = world.one(T.primaryIp, `haven-${type}`).inputs;
      expect(ip).toMatchObject({ name: `haven-test-${type}`, type, location: 'fsn1', assigneeType: 'server', autoDelete: false, deleteProtection: true });
    }
    expect(world.one(T.volume).inputs).toMatchObject({ name: 'haven-test-data', size: 10, location: 'fsn1', format: 'ext4', deleteProtection: true });
    for (const name of ['haven-ipv4', 'haven-ipv6', 'haven-data', 'haven-replica-bucket']) {
      expect(options.get(name)?.retainOnDelete, name).toBe(true);
      expect(options.get(name)?.protect, name).toBe(true);
    }
    expect(world.one(T.attachment).inputs).toMatchObject({ serverId: 5005, volumeId: Number(VOLUME_ID), automount: false });
  });

  it('every Hetzner name carries the stack, so two stacks in one project never collide', () => {
    const names = [T.primaryIp, T.volume, T.firewall, T.sshKey].flatMap((t) => world.byType(t).map((r) => r.inputs.name as string));
    expect(names.sort()).toEqual(['haven-test-data', 'haven-test-deploy', 'haven-test-firewall', 'haven-test-ipv4', 'haven-test-ipv6']);
    expect(world.one(T.server).inputs.labels).toMatchObject({ app: 'haven', stack: 'test' });
  });

  it('the server boots from user data that only bootstraps: no ignoreChanges, replaced cleanly when it changes', () => {
    const s = world.one(T.server).inputs;
    expect(s).toMatchObject({
      name: 'mail.example.com',
      serverType: 'cx23',
      image: 'debian-13',
      location: 'fsn1',
      firewallIds: [3003],
      sshKeys: ['haven-deploy-id'],
      publicNets: [{ ipv4Enabled: true, ipv4: 1001, ipv6Enabled: true, ipv6: 1002 }],
      shutdownBeforeDeletion: true,
    });
    const opts = options.get('haven-server')!;
    // ignoreChanges would make Pulumi reuse the old user data even for a replacement.
    expect(opts.ignoreChanges ?? []).toEqual([]);
    // The addresses and the volume belong to one server at a time: the old one goes first.
    expect(opts.deleteBeforeReplace).toBe(true);
    expect(options.get('haven-data-attachment')?.deleteBeforeReplace).toBe(true);
    expect(opts.replaceOnChanges).toEqual(['image']);
    expect(cloudInit.mounts[0].slice(0, 3)).toEqual([`/dev/disk/by-id/scsi-0HC_Volume_${VOLUME_ID}`, '/var/lib/haven', 'ext4']);
    // Not a secret: there is nothing secret in it.
    expect(isSecretWrapped(world.one(T.server).raw.userData)).toBe(false);
    const userData = world.one(T.server).inputs.userData as string;
    for (const v of [...Object.values(SECRETS), TOKEN_VALUE, r2SecretAccessKey(TOKEN_VALUE), 'PRIVATE KEY', 'example.org']) expect(userData).not.toContain(v);
  });

  it('the deploy key is Pulumi\'s own, on the server at creation and first in root\'s authorized_keys', () => {
    const deploy = world.keys.get('haven-deploy-key')!;
    expect(world.one(T.key, 'haven-deploy-key').inputs).toEqual({ algorithm: 'ED25519' });
    expect(world.one(T.sshKey).inputs.publicKey).toBe(deploy.publicKeyPem);
    const keys = writeFile('/root/.ssh/authorized_keys').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(keys).toEqual([deploy.publicKeyPem.trim(), JSON.parse(baseConfig()['haven:sshPublicKeys'])[0]]);
  });

  it('the configuration goes over SSH as the remote command\'s secret stdin, again for a new server or a new bundle', () => {
    const c = world.one(T.command);
    expect(c.inputs).toMatchObject({ create: '/usr/local/sbin/haven-apply', update: '/usr/local/sbin/haven-apply' });
    expect(c.inputs.connection).toMatchObject({ host: IPV4, user: 'root', privateKey: world.keys.get('haven-deploy-key')!.privateKeyPem });
    expect(isSecretWrapped(c.raw.stdin)).toBe(true);
    expect(c.inputs.triggers[0]).toBe('5005');
    expect(c.inputs.triggers[1]).toMatch(/^[0-9a-f]{64}$/);
    expect(options.get('haven-config')?.additionalSecretOutputs).toContain('stdin');
    expect([...bundle.keys()]).toEqual([
      '/etc/haven/credentials/dkim.haven.example.com.pem',
      '/etc/haven/credentials/dkim.haven.example.org.pem',
      '/etc/haven/credentials/master-key',
      '/etc/haven/haven.env',
      '/etc/haven/haven.yaml',
      '/etc/systemd/system/haven.service.d/credentials.conf',
      '/root/.ssh/authorized_keys',
    ]);
  });

  it('each DKIM record is published only after the node holds its key', () => {
    for (const domain of ['example.com', 'example.org']) {
      const deps = options.get(`haven-dns-TXT-haven._domainkey.${domain}`)?.dependsOn as pulumi.Resource[];
      expect(deps, domain).toHaveLength(1);
      expect(deps[0]).toBeInstanceOf(command.remote.Command);
    }
    // The rest do not wait for the node.
    expect(options.get('haven-dns-MX-example.com')?.dependsOn ?? []).toEqual([]);
  });

  it('DKIM keys are RSA-2048 kept in state', () => {
    const dkim = world.byType(T.key).filter((k) => k.name.startsWith('haven-dkim-'));
    expect(dkim).toHaveLength(2);
    for (const k of dkim) expect(k.inputs).toMatchObject({ algorithm: 'RSA', rsaBits: 2048 });
  });

  it('the replica bucket has a token scoped to it alone, that reads (restore) and writes (replication) objects', () => {
    expect(world.one(T.bucket).inputs).toMatchObject({ accountId: 'acct0123456789', name: 'haven-test-replica', location: 'weur' });
    const policy = world.one(T.token).inputs.policies[0];
    expect(policy.effect).toBe('allow');
    expect(policy.permissionGroups).toEqual([{ id: R2_READ_GROUP_ID }, { id: R2_GROUP_ID }]);
    expect(JSON.parse(policy.resources)).toEqual({ 'com.cloudflare.edge.r2.bucket.acct0123456789_default_haven-test-replica': '*' });
  });

  it('the node gets the S3 credentials R2 derives from the token, and the replica URL', () => {
    const env = writeFile('/etc/haven/haven.env');
    expect(env).toContain(`AWS_ACCESS_KEY_ID="${TOKEN_ID}"`);
    expect(env).toContain(`AWS_SECRET_ACCESS_KEY="${r2SecretAccessKey(TOKEN_VALUE)}"`);
    const cfg = parseYaml(writeFile('/etc/haven/haven.yaml'));
    expect(cfg.replicaUrl).toBe('s3://haven-test-replica/node-1?endpoint=https%3A%2F%2Facct0123456789.r2.cloudflarestorage.com&region=auto');
  });

  it('the edge Worker is the bundled entry with its bindings, admin domain and probe', async () => {
    const script = world.one(T.script).inputs;
    expect(script).toMatchObject({ accountId: 'acct0123456789', scriptName: 'haven-test-edge', mainModule: 'worker.js' });
    expect(script.content).toContain('/health');
    expect(script.content).not.toMatch(/^\s*import\s.+from\s+['"]hono['"]/m);
    const bindings = Object.fromEntries((script.bindings as { name: string; type: string }[]).map((b) => [b.name, b.type]));
    expect(bindings).toEqual({
      KV: 'kv_namespace',
      NODE_URL: 'plain_text',
      MAIL_HOST: 'plain_text',
      MAIL_DOMAINS: 'plain_text',
      POP3: 'plain_text',
      EDGE_SHARED_SECRET: 'secret_text',
      ADMIN_PASSWORD_HASH: 'secret_text',
      ALERT_WEBHOOK: 'secret_text',
      ACCESS_AUD: 'plain_text',
      ACCESS_TEAM: 'plain_text',
    });
    const text = (name: string) => (reveal(script.bindings) as { name: string; text?: string }[]).find((b) => b.name === name)?.text;
    expect(text('POP3')).toBe('true');
    expect([text('ACCESS_AUD'), text('ACCESS_TEAM')]).toEqual([ACCESS_AUD, 'myteam']);
    expect(world.one(T.customDomain).inputs).toMatchObject({ hostname: 'admin.example.com', service: 'haven-test-edge', zoneId: 'zone-example.com' });
    expect(world.one(T.cron).inputs).toMatchObject({ scriptName: 'haven-test-edge', schedules: [{ cron: '* * * * *' }] });
    expect(await valueOf(program.adminUrl!)).toBe('https://admin.example.com/');
  });
});

describe('addresses, reverse DNS and EHLO name agree', () => {
  it('PTR, A/AAAA and the EHLO name name the same host for IPv4 and IPv6', () => {
    const ptr = Object.fromEntries(world.byType(T.rdns).map((r) => [r.name, r.inputs]));
    expect(ptr['haven-ptr-ipv4']).toEqual({ primaryIpId: 1001, ipAddress: IPV4, dnsPtr: 'mail.example.com' });
    expect(ptr['haven-ptr-ipv6']).toEqual({ primaryIpId: 1002, ipAddress: IPV6_HOST, dnsPtr: 'mail.example.com' });
    const a = world.one(T.dns, 'haven-dns-A-mail.example.com').inputs;
    const aaaa = world.one(T.dns, 'haven-dns-AAAA-mail.example.com').inputs;
    expect([a.name, a.content, a.proxied]).toEqual(['mail.example.com', IPV4, false]);
    expect([aaaa.name, aaaa.content, aaaa.proxied]).toEqual(['mail.example.com', IPV6_HOST, false]);
    const nodeCfg = parseYaml(writeFile('/etc/haven/haven.yaml'));
    expect(nodeCfg.hostname).toBe('mail.example.com');
    expect(cloudInit.fqdn).toBe('mail.example.com');
  });

  it('SPF in every domain covers both server addresses and the relay named in spfExtra', () => {
    for (const domain of ['example.com', 'example.org']) {
      const spf = world.one(T.dns, `haven-dns-TXT-${domain}`).inputs.content as string;
      expect(spf).toBe(`v=spf1 ip4:${IPV4} ip6:${IPV6_HOST} include:spf.relay.example -all`);
    }
  });

  it('the DKIM record of each domain matches the private key the node receives', () => {
    const unit = writeFile('/etc/systemd/system/haven.service.d/credentials.conf');
    for (const domain of ['example.com', 'example.org']) {
      const pem = writeFile(`/etc/haven/credentials/dkim.haven.${domain}.pem`);
      expect(unit).toContain(`LoadCredential=dkim.haven.${domain}:/etc/haven/credentials/dkim.haven.${domain}.pem`);
      const derived = (createPublicKey(pem).export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
      const txt = world.one(T.dns, `haven-dns-TXT-haven._domainkey.${domain}`).inputs.content as string;
      expect(txt).toBe(`v=DKIM1; k=rsa; p=${derived}`);
    }
    // Each domain has its own key.
    expect(writeFile('/etc/haven/credentials/dkim.haven.example.com.pem')).not.toBe(writeFile('/etc/haven/credentials/dkim.haven.example.org.pem'));
  });
});

describe('firewall', () => {
  it('opens exactly the mail, web and ICMP ports, and SSH only from admin addresses', () => {
    const rules = (world.one(T.firewall).inputs.rules as Record<string, unknown>[]).map((r) => ({
      direction: r.direction,
      protocol: r.protocol,
      port: r.port ?? null,
      sourceIps: r.sourceIps,
    }));
    const anywhere = ['0.0.0.0/0', '::/0'];
    const tcp = (port: string) => ({ direction: 'in', protocol: 'tcp', port, sourceIps: anywhere });
    expect(rules).toEqual([
      tcp('25'),
      tcp('465'),
      tcp('587'),
      tcp('993'),
      tcp('4190'),
      tcp('995'),
      tcp('80'),
      tcp('443'),
      { direction: 'in', protocol: 'icmp', port: null, sourceIps: anywhere },
      { direction: 'in', protocol: 'tcp', port: '22', sourceIps: ['198.51.100.7/32', '2001:db8:beef::/48'] },
    ]);
  });
});

describe('secrets', () => {
  it('no secret reaches any resource input outside a secret', () => {
    const secretValues = [
      ...Object.values(SECRETS),
      TOKEN_VALUE,
      r2SecretAccessKey(TOKEN_VALUE),
      ...[...world.keys.values()].map((k) => k.privateKeyPem.split('\n')[1]),
    ];
    const leaks: string[] = [];
    for (const r of world.resources) {
      for (const s of plainStrings(r.raw)) {
        for (const v of secretValues) if (s.value.includes(v)) leaks.push(`${r.name}.${s.path}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('the configuration bundle and the Worker secrets are secret inputs; DNS values are not', () => {
    expect(isSecretWrapped(world.one(T.command).raw.stdin)).toBe(true);
    // Mocks push an element's secretness up to the whole list (the engine keeps it per element), so this
    // can only see that the list is secret; the leak test above proves no secret text is outside one.
    const bindings = world.one(T.script).raw.bindings;
    expect(isSecretWrapped(bindings)).toBe(true);
    const texts = Object.fromEntries((reveal(bindings) as Record<string, string>[]).map((b) => [b.name, b.text]));
    expect([texts.EDGE_SHARED_SECRET, texts.ADMIN_PASSWORD_HASH, texts.ALERT_WEBHOOK]).toEqual([SECRETS.edgeSecret, SECRETS.adminPasswordHash, SECRETS.alertWebhook]);
    for (const r of world.byType(T.dns)) expect(Object.values(r.raw).some(isSecretWrapped), r.name).toBe(false);
  });

  it('secret stack outputs are secret, the rest are not', async () => {
    expect(await pulumi.isSecret(program.replicaSecretAccessKey)).toBe(true);
    expect(await pulumi.isSecret(program.replicaAccessKeyId)).toBe(true);
    expect(await pulumi.isSecret(program.dnsRecords)).toBe(false);
    expect(await pulumi.isSecret(program.ipv4)).toBe(false);
    expect(await valueOf(program.replicaSecretAccessKey)).toBe(r2SecretAccessKey(TOKEN_VALUE));
  });

  it('the master key reaches the node only as a root-only credential file', () => {
    expect(bundle.get('/etc/haven/credentials/master-key')).toEqual({ mode: 0o600, content: `${SECRETS.masterKey}\n` });
    expect(writeFile('/etc/systemd/system/haven.service.d/credentials.conf')).toContain('LoadCredential=master-key:/etc/haven/credentials/master-key');
    expect(parseYaml(writeFile('/etc/haven/haven.yaml')).masterKeyFile).toBe('/run/credentials/haven.service/master-key');
    expect(writeFile('/etc/haven/haven.yaml')).not.toContain(SECRETS.masterKey);
  });
});

describe('DNS records', () => {
  function expected(): DnsRecord[] {
    const pub = (domain: string) => world.keys.get(`haven-dkim-${domain}`)!.publicKeyPem;
    return mailDnsRecords({
      domains: ['example.com', 'example.org'].map((name) => ({ name, dkim: { selector: 'haven', publicKey: pub(name) } })),
      mailHost: 'mail.example.com',
      ipv4: IPV4,
      ipv6: IPV6_HOST,
      pop3: true,
      spfExtra: ['include:spf.relay.example'],
      dmarcPolicy: 'reject',
    });
  }

  /** What the record looks like in Cloudflare's terms, written independently of infra/dns.ts. */
  function asCloudflare(r: DnsRecord): Record<string, unknown> {
    const base = { zoneId: `zone-${r.zone}`, name: r.name, type: r.type, ttl: r.ttl };
    // Cloudflare keeps an SRV record's priority at the top level too (without it every run shows a diff).
    if (r.type === 'SRV') return { ...base, priority: r.priority, data: { priority: r.priority, weight: r.weight, port: r.port, target: r.target } };
    if (r.type === 'CAA') return { ...base, data: { flags: r.flags, tag: r.tag, value: r.value } };
    if (r.type === 'MX') return { ...base, content: r.content, priority: r.priority };
    if (r.type === 'TXT') return { ...base, content: r.content };
    return { ...base, content: r.content, proxied: false };
  }

  const strip = (r: Recorded) => {
    const { comment: _comment, ...rest } = r.inputs;
    return rest;
  };

  it('equal the node/dns list, unproxied and fully qualified', () => {
    const sortKey = (x: Record<string, unknown>) => JSON.stringify([x.type, x.name, x.data ?? x.content]);
    const got = world.byType(T.dns).map(strip).sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
    const want = expected().map(asCloudflare).sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
    expect(got).toEqual(want);
    for (const r of world.byType(T.dns)) expect(r.inputs.name).toMatch(/\.(example\.com|example\.org)$|^example\.(com|org)$/);
  });

  // Written out here rather than taken from node/dns: the list must hold them, whoever computes it.
  it('include SPF for the mail host (RFC 7208 §2.3: bounces are checked against the HELO name) and _sieve._tcp per domain (RFC 5804 §1.8)', () => {
    const helo = world.one(T.dns, 'haven-dns-TXT-mail.example.com').inputs;
    expect(helo).toMatchObject({ zoneId: 'zone-example.com', name: 'mail.example.com', type: 'TXT', content: `v=spf1 ip4:${IPV4} ip6:${IPV6_HOST} -all` });
    for (const d of ['example.com', 'example.org']) {
      expect(world.one(T.dns, `haven-dns-SRV-_sieve._tcp.${d}`).inputs).toMatchObject({ zoneId: `zone-${d}`, name: `_sieve._tcp.${d}`, priority: 0, data: { priority: 0, weight: 1, port: 4190, target: 'mail.example.com' } });
    }
  });

  it('the node, configured by its bundle, expects exactly the records infra publishes (haven doctor, the admin API)', async () => {
    // The node's config file as haven-apply installs it, loaded by the node's own loader.
    const dir = mkdtempSync(join(tmpdir(), 'haven-program-'));
    try {
      const path = join(dir, 'haven.yaml');
      writeFileSync(path, writeFile('/etc/haven/haven.yaml'));
      const config = loadConfig({ env: {}, file: path });
      expect(config.spfExtra).toEqual(['include:spf.relay.example']);
      expect(config.dmarcPolicy).toBe('reject');
      const dkimKeys = (domain: string) => [{ selector: 'haven', algorithm: 'rsa' as const, publicKeyDns: publicKeyBase64(world.keys.get(`haven-dkim-${domain}`)!.publicKeyPem) }];
      const deps = doctorDepsFor({
        config,
        directory: { listDomains: () => [{ name: 'example.com' }, { name: 'example.org' }], dkimKeys },
        ipv4: IPV4,
        ipv6: IPV6_HOST,
      });
      const nodeList = mailDnsRecords(doctorDnsInput(deps));
      expect(nodeList.map(formatRecord)).toEqual(expected().map(formatRecord));
      // One list: what the node checks is what the stack created, the mail host's SPF and _sieve._tcp included.
      expect(nodeList.map(formatRecord)).toEqual(await valueOf(program.dnsRecords));
      // The SPF and DMARC records Cloudflare gets are the ones the node checks for, relay include and reject policy and all.
      for (const domain of ['example.com', 'example.org']) {
        const spf = nodeList.find((r) => r.type === 'TXT' && r.name === domain);
        expect(spf && 'content' in spf && spf.content).toBe(world.one(T.dns, `haven-dns-TXT-${domain}`).inputs.content);
        const dmarc = nodeList.find((r) => r.type === 'TXT' && r.name === `_dmarc.${domain}`);
        expect(dmarc && 'content' in dmarc && dmarc.content).toBe(`v=DMARC1; p=reject; rua=mailto:postmaster@${domain}; adkim=s; aspf=s`);
        expect(world.byType(T.dns).filter((r) => r.inputs.name === `_dmarc.${domain}`).map((r) => r.inputs.content)).toEqual([dmarc && 'content' in dmarc && dmarc.content]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the dnsRecords output lists the same records', async () => {
    expect(await valueOf(program.dnsRecords)).toEqual(expected().map(formatRecord));
  });

  it('outputs the addresses and how to reach the node', async () => {
    expect(await valueOf(program.ipv4)).toBe(IPV4);
    expect(await valueOf(program.ipv6)).toBe(IPV6_HOST);
    expect(await valueOf(program.ssh)).toBe(`ssh root@${IPV4}`);
    expect(program.mailHost).toBe('mail.example.com');
    expect(program.mtaStsPolicy).toContain('mx: mail.example.com\r\n');
  });
});
