/**
 * @module test/infra/harness
 * Pulumi unit-test mocks for the infra suites: records every resource the
 * program registers (type, name, inputs as the engine would see them, secrets
 * still wrapped), answers the provider functions the program calls, and
 * gives resources the computed outputs real providers would (addresses, ids,
 * real RSA keys for tls.PrivateKey). Set config and mocks first, import the
 * program after, as pulumi/examples testing-unit-ts does.
 */
import { generateKeyPairSync } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';

/** How the mock monitor hands a secret input over: { [SIG_KEY]: SECRET_SIG, value }. */
const SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

export interface Recorded {
  type: string;
  name: string;
  id: string;
  /** Inputs with secrets still wrapped. */
  raw: Record<string, unknown>;
  /** Inputs with secrets unwrapped. */
  inputs: Record<string, any>;
}

export const IPV4 = '203.0.113.10';
export const IPV6_NETWORK = '2001:db8:1234:5678::/64';
export const IPV6_HOST = '2001:db8:1234:5678::1';
export const VOLUME_ID = '4242';
/** The standby node's own resources (names under haven-standby), distinct from the primary's. */
export const STANDBY = { ipv4: '203.0.113.20', ipv6Network: '2001:db8:aaaa:bbbb::/64', ipv6Host: '2001:db8:aaaa:bbbb::1', volumeId: '4343', serverId: '5006', firewallId: '3004', ipv4Id: '2001', ipv6Id: '2002' };
/** The mail host's Floating IPs (haven:standby). */
export const FLOATING = { ipv4: '198.51.100.80', ipv6Network: '2001:db8:f100:f100::/64', ipv6Host: '2001:db8:f100:f100::1', ipv4Id: '7001', ipv6Id: '7002' };
export const TOKEN_ID = 'f00dfacef00dfacef00dfacef00dface';
export const TOKEN_VALUE = 'cf-token-value-never-in-plaintext';
export const R2_GROUP_ID = '2efd5506f9c8494dacb1fa10a3e7d5b6';
export const R2_READ_GROUP_ID = '6a018a9f2fc74eb6b293b0c548f38b39';
/** Cloudflare's permission groups as its list returns them. */
const PERMISSION_GROUPS = [
  { id: R2_GROUP_ID, name: 'Workers R2 Storage Bucket Item Write', scopes: ['com.cloudflare.edge.r2.bucket'] },
  { id: R2_READ_GROUP_ID, name: 'Workers R2 Storage Bucket Item Read', scopes: ['com.cloudflare.edge.r2.bucket'] },
  { id: 'c8fed203ed3043cba015a93ad1616f1f', name: 'Zone Read', scopes: ['com.cloudflare.api.account.zone'] },
];

/** An OpenSSH public key line for an Ed25519 key (RFC 8709 §4: string "ssh-ed25519", string key). */
export function opensshEd25519(raw: Buffer, comment = ''): string {
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')}${comment ? ' ' + comment : ''}\n`;
}

export const SECRETS = {
  masterKey: 'ab'.repeat(32),
  edgeSecret: 'edge-secret-'.padEnd(48, 'x'),
  adminPasswordHash: '$scrypt$N=16384,r=8,p=1$c2FsdA$aGFzaA',
  smarthost: 'smtp://relay-user:relay-pass@relay.example.net:587',
  alertWebhook: 'https://hooks.example.net/services/T0/B0/webhook-token',
};

export function baseConfig(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    'haven:domains': JSON.stringify(['example.com', 'example.org']),
    'haven:mailHost': 'mail.example.com',
    'haven:cloudflareAccountId': 'acct0123456789',
    'haven:sshPublicKeys': JSON.stringify(['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0b8kTq0ZC1QoXyJzKc admin@laptop']),
    'haven:adminSourceIps': JSON.stringify(['198.51.100.7', '2001:db8:beef::/48']),
    'haven:pop3': 'true',
    'haven:spfExtra': JSON.stringify(['include:spf.relay.example']),
    // Not the default, so a node left at the default would disagree with what Cloudflare gets.
    'haven:dmarcPolicy': 'reject',
    'haven:havenRelease': 'https://releases.example.net/haven-0.1.0.tgz',
    'haven:edgeEntry': 'test/infra/fixtures/worker.ts',
    'haven:masterKey': SECRETS.masterKey,
    'haven:edgeSecret': SECRETS.edgeSecret,
    'haven:adminPasswordHash': SECRETS.adminPasswordHash,
    'haven:smarthost': SECRETS.smarthost,
    'haven:alertWebhook': SECRETS.alertWebhook,
    ...overrides,
  };
}

export function isSecretWrapped(v: unknown): v is { value: unknown } {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function reveal(v: unknown): any {
  if (isSecretWrapped(v)) return reveal(v.value);
  if (Array.isArray(v)) return v.map(reveal);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
  return v;
}

/** Every string in `v` that is not inside a secret wrapper, with its path. */
export function plainStrings(v: unknown, path = ''): { path: string; value: string }[] {
  if (isSecretWrapped(v)) return [];
  if (typeof v === 'string') return [{ path, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => plainStrings(x, `${path}[${i}]`));
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, x]) => plainStrings(x, path ? `${path}.${k}` : k));
  return [];
}

export interface MockWorld {
  resources: Recorded[];
  /** PEM keys handed out for tls.PrivateKey, by resource name. */
  keys: Map<string, { privateKeyPem: string; publicKeyPem: string }>;
  /** Provider function calls the program made (those a test looks at). */
  calls: { token: string; inputs: any }[];
  byType(type: string): Recorded[];
  one(type: string, name?: string): Recorded;
}

/** Installs config and mocks. Call before importing the program. */
/** A record already in a zone, as Cloudflare's list returns it. */
export interface ZoneRecord {
  name: string;
  type: string;
  content: string;
  comment?: string;
}

export interface MockOptions {
  /** Records already in each zone (by zone name) that getDnsRecords returns. */
  existingRecords?: Record<string, ZoneRecord[]>;
  /** Hand every RSA tls.PrivateKey the same key (scale tests: generating hundreds takes minutes). */
  oneRsaKey?: boolean;
}

export async function installMocks(config: Record<string, string>, secretKeys = Object.keys(SECRETS).map((k) => `haven:${k}`), mockOpts: MockOptions = {}): Promise<MockWorld> {
  const resources: Recorded[] = [];
  const keys = new Map<string, { privateKeyPem: string; publicKeyPem: string }>();
  const calls: { token: string; inputs: any }[] = [];
  let sharedRsa: ReturnType<typeof generateKeyPairSync> | undefined;
  pulumi.runtime.setAllConfig(config, secretKeys);
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const inputs = args.inputs as Record<string, unknown>;
        let id = `${args.name}-id`;
        let extra: Record<string, unknown> = {};
        const standby = args.name.startsWith('haven-standby-');
        switch (args.type) {
          case 'hcloud:index/floatingIp:FloatingIp':
            id = reveal(inputs.type) === 'ipv4' ? FLOATING.ipv4Id : FLOATING.ipv6Id;
            // Hetzner gives a Floating IPv6 as its /64; the provider reports the network's first address and the network.
            extra = reveal(inputs.type) === 'ipv4' ? { ipAddress: FLOATING.ipv4 } : { ipAddress: FLOATING.ipv6Network.split('/')[0], ipNetwork: FLOATING.ipv6Network };
            break;
          case 'hcloud:index/primaryIp:PrimaryIp':
            if (standby) {
              id = reveal(inputs.type) === 'ipv4' ? STANDBY.ipv4Id : STANDBY.ipv6Id;
              extra = reveal(inputs.type) === 'ipv4' ? { ipAddress: STANDBY.ipv4 } : { ipAddress: STANDBY.ipv6Network.split('/')[0], ipNetwork: STANDBY.ipv6Network };
              break;
            }
            id = reveal(inputs.type) === 'ipv4' ? '1001' : '1002';
            extra = reveal(inputs.type) === 'ipv4' ? { ipAddress: IPV4 } : { ipAddress: IPV6_NETWORK.split('/')[0], ipNetwork: IPV6_NETWORK };
            break;
          case 'hcloud:index/volume:Volume':
            id = standby ? STANDBY.volumeId : VOLUME_ID;
            break;
          case 'hcloud:index/firewall:Firewall':
            id = standby ? STANDBY.firewallId : '3003';
            break;
          case 'hcloud:index/server:Server':
            id = standby ? STANDBY.serverId : '5005';
            extra = standby
              ? { ipv4Address: STANDBY.ipv4, ipv6Network: STANDBY.ipv6Network, ipv6Address: STANDBY.ipv6Host, status: 'running' }
              : { ipv4Address: IPV4, ipv6Network: IPV6_NETWORK, ipv6Address: IPV6_HOST, status: 'running' };
            break;
          case 'tls:index/privateKey:PrivateKey': {
            if (reveal(inputs.algorithm) === 'ED25519') {
              const { privateKey, publicKey } = generateKeyPairSync('ed25519');
              const raw = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).subarray(-32);
              extra = {
                privateKeyOpenssh: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
                publicKeyOpenssh: opensshEd25519(raw),
                publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
              };
              keys.set(args.name, { privateKeyPem: extra.privateKeyOpenssh as string, publicKeyPem: extra.publicKeyOpenssh as string });
              break;
            }
            const { privateKey, publicKey } = mockOpts.oneRsaKey ? (sharedRsa ??= generateKeyPairSync('rsa', { modulusLength: 2048 })) : generateKeyPairSync('rsa', { modulusLength: 2048 });
            const k = {
              privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
              privateKeyPemPkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
              publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
            };
            keys.set(args.name, { privateKeyPem: k.privateKeyPemPkcs8, publicKeyPem: k.publicKeyPem });
            extra = k;
            break;
          }
          case 'cloudflare:index/accountToken:AccountToken':
            id = TOKEN_ID;
            extra = { value: TOKEN_VALUE };
            break;
        }
        resources.push({ type: args.type, name: args.name, id, raw: inputs, inputs: reveal(inputs) });
        return { id, state: { ...inputs, ...extra } };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        const inputs = reveal(args.inputs);
        switch (args.token) {
          case 'cloudflare:index/getZone:getZone':
            return { id: `zone-${inputs.filter.name}`, name: inputs.filter.name };
          case 'cloudflare:index/getAccountApiTokenPermissionGroupsList:getAccountApiTokenPermissionGroupsList':
            // The name filter is an exact match, as Cloudflare's API applies it.
            return { results: PERMISSION_GROUPS.filter((g) => inputs.name === undefined || g.name === inputs.name) };
          case 'cloudflare:index/getDnsRecords:getDnsRecords': {
            calls.push({ token: args.token, inputs });
            const zone = String(inputs.zoneId).replace(/^zone-/, '');
            return { results: (mockOpts.existingRecords?.[zone] ?? []).map((r, i) => ({ id: `rec-${i}`, ttl: 1, proxied: false, comment: '', ...r })) };
          }
          default:
            throw new Error(`unmocked provider function ${args.token}`);
        }
      },
    },
    'haven',
    'test',
  );
  const world: MockWorld = {
    resources,
    keys,
    calls,
    byType: (type) => resources.filter((r) => r.type === type),
    one(type, name) {
      const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
      if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ''}, found ${found.length}: ${found.map((r) => r.name).join(', ')}`);
      return found[0];
    },
  };
  return world;
}

/**
 * Runs the program inside a root stack, as the Pulumi CLI does, so a stack
 * transformation sees every resource's options (recorded into `options` by
 * name when given), and waits until every registration reached the mocks.
 */
export async function runProgram(options?: Map<string, pulumi.CustomResourceOptions>): Promise<typeof import('../../infra/index.js')> {
  let program: typeof import('../../infra/index.js') | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    if (options)
      pulumi.runtime.registerStackTransformation((args) => {
        options.set(args.name, args.opts);
        return undefined;
      });
    program = await import('../../infra/index.js');
    return {};
  });
  await valueOf(program!.dnsRecords);
  await settle();
  return program!;
}

/** Resolves an Output's value (mocks resolve everything). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/** Waits until every registration the program started has reached the mocks. */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** The files of a configuration bundle (base64 ustar), extracted by GNU tar as haven-apply does: path -> content and mode. */
export async function extractBundle(base64: string): Promise<Map<string, { content: string; mode: number }>> {
  const { execFile } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { promisify } = await import('node:util');
  const run = promisify(execFile);
  const dir = mkdtempSync(join(tmpdir(), 'haven-bundle-'));
  try {
    writeFileSync(join(dir, 'bundle.b64'), base64);
    await run('mkdir', [join(dir, 'x')]);
    await run('sh', ['-c', 'base64 -d "$1" | tar -x -f - -C "$2" --no-same-owner', 'sh', join(dir, 'bundle.b64'), join(dir, 'x')]);
    const { stdout } = await run('find', [join(dir, 'x'), '-type', 'f', '-printf', '%P\\n']);
    const out = new Map<string, { content: string; mode: number }>();
    for (const p of stdout.trim().split('\n').sort()) out.set(`/${p}`, { content: readFileSync(join(dir, 'x', p), 'utf8'), mode: statSync(join(dir, 'x', p)).mode & 0o777 });
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
