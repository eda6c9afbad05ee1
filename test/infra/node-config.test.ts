/**
 * @module test/infra/node-config
 * The configuration bundle `pulumi up` sends to `haven-apply`: GNU tar (an
 * independent reader of POSIX ustar, IEEE Std 1003.1-1988) extracts exactly
 * the files with their modes; the node's own config loader accepts the config
 * file and environment; secrets sit only in root-only files; the unit
 * drop-in loads one credential per DKIM key; the same input gives the same
 * bytes (so Pulumi sees no change when there is none) and any change gives
 * another hash.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { configBundle, NodeConfigError, nodeConfigFiles, type NodeConfigInput } from '../../infra/node-config.js';
import { tar, TarError } from '../../infra/tar.js';
import { loadConfig } from '../../node/config/index.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'haven-node-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const KEYS = [pem(), pem()];
const DEPLOY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployDeployDeployDeployDeployDeployDeploy pulumi';
const ADMIN = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0b8kTq0ZC1QoXyJzKc admin@laptop';

function input(over: Partial<NodeConfigInput> = {}): NodeConfigInput {
  return {
    mailHost: 'mail.example.com',
    pop3: true,
    acmeEmail: 'postmaster@example.com',
    replicaUrl: 's3://haven-replica/node-1?endpoint=https%3A%2F%2Facct.r2.cloudflarestorage.com&region=auto',
    spfExtra: ['include:spf.relay.example'],
    dmarcPolicy: 'reject',
    dkimKeys: [
      { domain: 'example.com', selector: 'haven', privateKeyPem: KEYS[0] },
      { domain: 'example.org', selector: 'haven', privateKeyPem: KEYS[1] },
    ],
    secrets: {
      masterKey: 'ab'.repeat(32),
      edgeSecret: 'edge"secret\\with$quotes`and-backslash-0123456789',
      smarthost: 'smtp://relay-user:pa%24%24@relay.example.net:587',
      replicaAccessKeyId: 'f00dface',
      replicaSecretAccessKey: 'c0ffee'.repeat(10),
    },
    authorizedKeys: [DEPLOY, ADMIN],
    ...over,
  };
}

let n = 0;
/** Extracts a bundle with GNU tar, as haven-apply does; returns path -> {content, mode}. */
async function extract(base64: string): Promise<Map<string, { content: string; mode: string }>> {
  const into = join(dir, `x${n++}`);
  mkdirSync(into);
  writeFileSync(`${into}.b64`, base64);
  // base64(1) decodes what Node encoded, tar extracts it: the same two tools haven-apply runs.
  await run('sh', ['-c', `base64 -d "$1" | tar -x -f - -C "$2" --no-same-owner`, 'sh', `${into}.b64`, into]);
  const { stdout } = await run('find', [into, '-type', 'f', '-printf', '%P\\n']);
  const out = new Map<string, { content: string; mode: string }>();
  for (const p of stdout.trim().split('\n').sort()) out.set(`/${p}`, { content: readFileSync(join(into, p), 'utf8'), mode: (statSync(join(into, p)).mode & 0o777).toString(8) });
  return out;
}

describe('the bundle', () => {
  it('GNU tar extracts exactly the node\'s files, with their modes', async () => {
    const files = await extract(configBundle(input()).base64);
    expect([...files.entries()].map(([p, f]) => [p, f.mode])).toEqual([
      ['/etc/haven/credentials/dkim.haven.example.com.pem', '600'],
      ['/etc/haven/credentials/dkim.haven.example.org.pem', '600'],
      ['/etc/haven/credentials/master-key', '600'],
      ['/etc/haven/haven.env', '600'],
      ['/etc/haven/haven.yaml', '644'],
      ['/etc/systemd/system/haven.service.d/credentials.conf', '644'],
      ['/root/.ssh/authorized_keys', '600'],
    ]);
    for (const f of nodeConfigFiles(input())) expect(files.get(f.path)?.content, f.path).toBe(f.content);
  });

  it('gives the same bytes for the same input and another hash for any change', () => {
    const a = configBundle(input());
    expect(configBundle(input())).toEqual(a);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    const changes: Partial<NodeConfigInput>[] = [
      { secrets: { ...input().secrets, smarthost: 'smtp://u:new@relay.example.net:587' } },
      { secrets: { ...input().secrets, edgeSecret: 'x'.repeat(40) } },
      { secrets: { ...input().secrets, replicaSecretAccessKey: 'd'.repeat(64) } },
      { dkimKeys: input().dkimKeys.slice(0, 1) },
      { dmarcPolicy: 'quarantine' },
      { authorizedKeys: [DEPLOY] },
    ];
    const hashes = new Set([a.sha256, ...changes.map((c) => configBundle(input(c)).sha256)]);
    expect(hashes.size).toBe(changes.length + 1);
  });

  it('stays a modest stdin with 100 domains (it never goes near user data)', () => {
    const domains = Array.from({ length: 100 }, (_, i) => ({ domain: `domain${i}.example`, selector: 'haven', privateKeyPem: KEYS[i % 2] }));
    const b = configBundle(input({ dkimKeys: domains }));
    // ~1.7 KB PEM per key, base64 adds a third: well under a megabyte.
    expect(b.base64.length).toBeLessThan(400_000);
  });
});

describe('what the node receives', () => {
  const files = new Map(nodeConfigFiles(input()).map((f) => [f.path, f]));
  const text = (p: string) => files.get(p)!.content;

  it('the node\'s loader accepts the config file and environment', () => {
    const env = Object.fromEntries(
      text('/etc/haven/haven.env')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => {
          const [, k, v] = /^([A-Z_]+)="(.*)"$/.exec(l)!;
          return [k, v.replace(/\\(["\\])/g, '$1')];
        }),
    );
    expect(env.HAVEN_ADMIN_SECRET).toBe(input().secrets.edgeSecret);
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(input().secrets.replicaSecretAccessKey);
    const path = join(dir, 'haven.yaml');
    writeFileSync(path, text('/etc/haven/haven.yaml'));
    const cfg = loadConfig({ env, file: path });
    expect(cfg).toMatchObject({
      dataDir: '/var/lib/haven',
      hostname: 'mail.example.com',
      listenAddress: '::',
      masterKeyFile: '/run/credentials/haven.service/master-key',
      smarthost: input().secrets.smarthost,
      replicaUrl: input().replicaUrl,
      pop3: { enabled: true },
      tls: { acme: { enabled: true, email: 'postmaster@example.com', challenge: 'http-01' } },
      spfExtra: ['include:spf.relay.example'],
      dmarcPolicy: 'reject',
    });
    expect(cfg.admin.secret).toBe(input().secrets.edgeSecret);
    expect(cfg.ports).toMatchObject({ smtp: 25, submission: 587, submissions: 465, imaps: 993, pop3s: 995, http: 80, https: 443 });
  });

  it('keeps every secret out of the world-readable files', () => {
    const readable = nodeConfigFiles(input()).filter((f) => f.mode & 0o044);
    expect(readable.map((f) => f.path).sort()).toEqual(['/etc/haven/haven.yaml', '/etc/systemd/system/haven.service.d/credentials.conf']);
    const all = readable.map((f) => f.content).join('\n');
    for (const s of Object.values(input().secrets)) expect(all).not.toContain(s);
    expect(all).not.toContain('PRIVATE KEY');
  });

  it('the drop-in loads the master key and one credential per domain under the names the node imports', () => {
    expect(text('/etc/systemd/system/haven.service.d/credentials.conf').split('\n').filter((l) => l.startsWith('LoadCredential='))).toEqual([
      'LoadCredential=master-key:/etc/haven/credentials/master-key',
      'LoadCredential=dkim.haven.example.com:/etc/haven/credentials/dkim.haven.example.com.pem',
      'LoadCredential=dkim.haven.example.org:/etc/haven/credentials/dkim.haven.example.org.pem',
    ]);
    expect(text('/etc/haven/credentials/master-key')).toBe(`${'ab'.repeat(32)}\n`);
  });

  it('root\'s authorized_keys holds the deploy key, then the operators\'', () => {
    expect(text('/root/.ssh/authorized_keys').split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([DEPLOY, ADMIN]);
  });

  it('leaves the smarthost out when none is set', () => {
    const env = nodeConfigFiles(input({ secrets: { ...input().secrets, smarthost: '' } })).find((f) => f.path === '/etc/haven/haven.env')!.content;
    expect(env).not.toContain('HAVEN_SMARTHOST');
  });

  it('a single node\'s config names no role and no failover (its bundle is what it was before standby existed)', () => {
    expect(text('/etc/haven/haven.yaml')).not.toMatch(/^role:|^failover:|^outbound:/m);
    expect(text('/etc/haven/haven.env')).not.toContain('HETZNER');
  });

  it('with a standby: the role, Floating IP ids and server id in the config, the token only in the environment file', () => {
    const token = 'hcloud-token-'.padEnd(64, 'q');
    const withStandby = input({
      failover: { role: 'standby', floatingIps: ['7001', '7002'], hetznerServerId: '5006' },
      secrets: { ...input().secrets, hetznerToken: token },
    });
    const f = new Map(nodeConfigFiles(withStandby).map((x) => [x.path, x]));
    const path = join(dir, 'haven-standby.yaml');
    writeFileSync(path, f.get('/etc/haven/haven.yaml')!.content);
    const envText = f.get('/etc/haven/haven.env')!.content;
    expect(envText).toContain(`HAVEN_FAILOVER_HETZNER_TOKEN="${token}"`);
    expect(f.get('/etc/haven/haven.env')!.mode).toBe(0o600);
    for (const [p, x] of f) if (p !== '/etc/haven/haven.env') expect(x.content, p).not.toContain(token);
    const cfg = loadConfig({ env: { HAVEN_FAILOVER_HETZNER_TOKEN: token }, file: path });
    expect(cfg.role).toBe('standby');
    expect(cfg.failover).toMatchObject({ floatingIps: ['7001', '7002'], hetznerServerId: '5006', hetznerToken: token });
    expect(() => nodeConfigFiles(input({ failover: { role: 'primary', floatingIps: ['7001'], hetznerServerId: 'abc' } }))).toThrow(/server id "abc" is not numeric/);
    expect(() => nodeConfigFiles(input({ failover: { role: 'primary', floatingIps: ['x'], hetznerServerId: '5' } }))).toThrow(/Floating IP id "x"/);
    // The Floating IPs as the source of outbound mail; anything but an address is refused before it reaches a server.
    const withSource = input({ failover: { role: 'primary', floatingIps: ['7001', '7002'], hetznerServerId: '5005', sourceAddresses: ['198.51.100.80', '2001:db8:f100:f100::1'] } });
    const sourcePath = join(dir, 'haven-source.yaml');
    writeFileSync(sourcePath, nodeConfigFiles(withSource).find((x) => x.path === '/etc/haven/haven.yaml')!.content);
    expect(loadConfig({ env: {}, file: sourcePath }).outbound.sourceAddresses).toEqual(['198.51.100.80', '2001:db8:f100:f100::1']);
    expect(() => nodeConfigFiles(input({ failover: { role: 'primary', floatingIps: ['7001'], hetznerServerId: '5', sourceAddresses: ['mail.example.com'] } }))).toThrow(/source address "mail.example.com" is not an IP address/);
  });

  it('refuses what it cannot hand over safely', () => {
    expect(() => nodeConfigFiles(input({ secrets: { ...input().secrets, smarthost: 'smtp://a\nEVIL=1' } }))).toThrow(/line break/);
    expect(() => nodeConfigFiles(input({ dkimKeys: [{ domain: '../../etc', selector: 'haven', privateKeyPem: KEYS[0] }] }))).toThrow(NodeConfigError);
    expect(() => nodeConfigFiles(input({ secrets: { ...input().secrets, masterKey: 'short' } }))).toThrow(/64 hex/);
    expect(() => nodeConfigFiles(input({ authorizedKeys: ['ssh-ed25519 AAAA x\nssh-rsa BBBB y'] }))).toThrow(NodeConfigError);
  });
});

describe('the tar writer', () => {
  it('writes long paths with the ustar prefix field, which GNU tar reads back', async () => {
    const long = `etc/haven/credentials/dkim.haven.${'a'.repeat(40)}.${'b'.repeat(20)}.example.pem`;
    expect(long.length).toBeGreaterThan(100);
    const files = await extract(tar([{ path: long, content: 'x\n', mode: 0o600 }]).toString('base64'));
    expect([...files.keys()]).toEqual([`/${long}`]);
  });

  it('refuses absolute paths, dot-dot and names too long for ustar', () => {
    expect(() => tar([{ path: '/etc/passwd', content: '', mode: 0o644 }])).toThrow(TarError);
    expect(() => tar([{ path: 'etc/../passwd', content: '', mode: 0o644 }])).toThrow(TarError);
    expect(() => tar([{ path: `etc/${'x'.repeat(101)}`, content: '', mode: 0o644 }])).toThrow(/too long/);
  });
});
