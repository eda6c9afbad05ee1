/**
 * @module test/infra/first-boot
 * The server's first boot, for real: the cloud-config the program renders is
 * laid into a Debian 13 root filesystem (mmdebstrap, cached: test/infra/rootfs.ts)
 * built from the same package list, with Debian's Node.js and npm in place of
 * NodeSource's (which cannot be reached here) and this checkout's `npm pack`
 * as the release; a directory bound at the data directory stands in for the
 * volume, holding files an older server left under other ids. Then the
 * rendered setup script runs in it, as cloud-init's runcmd would, and:
 * - the binary the unit starts exists where npm put it (prefix /usr);
 * - `systemd-analyze verify` accepts the units, drop-in included;
 * - the haven user and group have the fixed ids, and every file on the
 *   volume belongs to them;
 * - `haven start --help` runs as that user;
 * - rspamd's workers listen on loopback only (`rspamadm configdump`);
 * - haven-apply installs a configuration bundle, removes a dropped domain's
 *   key, and refuses to swap the master key under existing data.
 *
 * better-sqlite3-multiple-ciphers' install fetches its prebuilt addon from
 * GitHub, which this machine cannot reach: a local server answers that
 * download (prebuild-install's documented binary-host mirror variable) with
 * the addon this checkout's install built for the same Node ABI.
 *
 * Takes about five minutes with a cached root filesystem (most of it npm
 * installing the release's dependencies from the registry), two to five more
 * to build one.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { APPLY_SCRIPT, HAVEN_BIN, HAVEN_GID, HAVEN_UID, PACKAGES, renderCloudInit, SETUP_SCRIPT } from '../../infra/cloud-init.js';
import { configBundle, type NodeConfigInput } from '../../infra/node-config.js';
import { debianRootfs, inRoot, type ChrootResult } from './rootfs.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
/** Debian's own Node.js and npm stand in for NodeSource's; systemd for systemctl and systemd-analyze. */
const TEST_PACKAGES = [...PACKAGES, 'npm', 'systemd'];
/** Debian 13's nodejs is 20.x: the setup script is rendered to accept it. */
const DEBIAN_NODE_MAJOR = 20;
/** An older server's haven ids, on the files of the reattached volume. */
const OLD_ID = 1234;

const scratch = mkdtempSync(join(tmpdir(), 'haven-first-boot-'));
const root = join(scratch, 'root');
const volume = join(scratch, 'volume');
const npmCache = join(process.env.npm_config_cache ?? join(homedir(), '.npm'));
const at = (p: string) => join(root, p);

type Doc = { write_files: { path: string; content: string; permissions: string }[]; runcmd: string[][] };
let doc: Doc;
let setup: ChrootResult;
let prebuildServer: Server;
let prebuildPort = 0;

const HOST_CA = process.env.NODE_EXTRA_CA_CERTS ?? process.env.SSL_CERT_FILE;
const CA_ENV: Record<string, string> = HOST_CA ? { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/host-ca.crt', npm_config_cafile: '/etc/ssl/certs/host-ca.crt' } : {};

/** Runs in the root with the volume bound at the data directory and the host's npm cache bound in (only a speed-up). */
function inServer(argv: string[], opts: { asUser?: string; stdin?: string; env?: Record<string, string> } = {}): Promise<ChrootResult> {
  return inRoot(root, argv, {
    ...opts,
    // SYSTEMD_OFFLINE: systemctl acts on the files (enable) and skips what needs a running systemd (start).
    env: { SYSTEMD_OFFLINE: '1', ...CA_ENV, ...opts.env },
    binds: [
      [volume, '/var/lib/haven'],
      [npmCache, '/root/.npm'],
    ],
  });
}

const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

function bundleInput(domains: string[], masterKey = 'ab'.repeat(32)): NodeConfigInput {
  return {
    mailHost: 'mail.example.test',
    pop3: false,
    acmeEmail: 'postmaster@example.test',
    replicaUrl: '',
    dkimKeys: domains.map((domain) => ({ domain, selector: 'haven', privateKeyPem: pem })),
    secrets: { masterKey, edgeSecret: 'e'.repeat(40), smarthost: '', replicaAccessKeyId: '', replicaSecretAccessKey: '' },
    authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0b8kTq0ZC1QoXyJzKc deploy'],
  };
}

beforeAll(async () => {
  const [rootfs, release] = await Promise.all([
    debianRootfs(TEST_PACKAGES),
    run('npm', ['pack', '--pack-destination', scratch], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 }).then(({ stdout }) => join(scratch, stdout.trim().split('\n').pop()!)),
  ]);
  mkdirSync(root);
  await run('tar', ['-x', '-f', rootfs, '-C', root]);
  writeFileSync(at('etc/resolv.conf'), readFileSync('/etc/resolv.conf'));
  // The machine's own trust store: where outbound HTTPS passes a TLS proxy (as on this build machine),
  // the server image's Debian roots alone cannot reach the npm registry.
  if (HOST_CA) writeFileSync(at('etc/ssl/certs/host-ca.crt'), readFileSync(HOST_CA));
  await run('cp', [release, at('root/haven.tgz')]);
  mkdirSync(npmCache, { recursive: true });
  mkdirSync(at('root/.npm'), { recursive: true });
  // The mount point, as cloud-init's mounts module leaves it.
  mkdirSync(at('var/lib/haven'), { recursive: true });

  // The volume an older server left: its files under that server's ids.
  mkdirSync(join(volume, 'mailboxes'), { recursive: true });
  writeFileSync(join(volume, 'mailboxes', 'a1.sqlite'), 'old mailbox');
  writeFileSync(join(volume, 'directory.sqlite'), 'old directory');
  for (const p of [volume, join(volume, 'mailboxes'), join(volume, 'mailboxes', 'a1.sqlite'), join(volume, 'directory.sqlite')]) chownSync(p, OLD_ID, OLD_ID);

  // What cloud-init does before runcmd: write_files (packages are in the image already).
  doc = parseYaml(renderCloudInit({ mailHost: 'mail.example.test', volumeId: '4242', havenRelease: '/root/haven.tgz', nodeMajor: DEBIAN_NODE_MAJOR })) as Doc;
  for (const f of doc.write_files) {
    mkdirSync(dirname(at(f.path)), { recursive: true });
    writeFileSync(at(f.path), f.content, { mode: parseInt(f.permissions, 8) });
  }

  // GitHub's release download for the prebuilt SQLite addon, answered locally.
  const addon = join(scratch, 'prebuild.tar.gz');
  await run('tar', ['-c', '-z', '-f', addon, '-C', join(REPO, 'node_modules', 'better-sqlite3-multiple-ciphers'), 'build/Release/better_sqlite3.node']);
  prebuildServer = createServer((_req, res) => res.end(readFileSync(addon)));
  await new Promise<void>((resolve) => prebuildServer.listen(0, '127.0.0.1', resolve));
  prebuildPort = (prebuildServer.address() as AddressInfo).port;

  // runcmd, as cloud-init runs it.
  expect(doc.runcmd).toEqual([[SETUP_SCRIPT]]);
  setup = await inServer(doc.runcmd[0], { env: { npm_config_better_sqlite3_multiple_ciphers_binary_host: `http://127.0.0.1:${prebuildPort}` } });
}, 20 * 60_000);

// close() waits for npm's keep-alive connections to the addon server, which npm never ends; and the
// unpacked root is a whole Debian system to delete.
afterAll(async () => {
  prebuildServer?.closeAllConnections();
  await new Promise((resolve) => prebuildServer?.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
}, 5 * 60_000);

describe('the first-boot script in Debian 13', () => {
  it('runs to the end', () => {
    expect(setup.stderr + setup.stdout).toContain('haven-setup: done; /usr/bin/haven installed, /var/lib/haven ready');
    expect(setup.code).toBe(0);
  });

  it('leaves the binary the unit starts where npm installed it', async () => {
    const unit = readFileSync(at('etc/systemd/system/haven.service'), 'utf8');
    const execStart = /^ExecStart=(\S+) /m.exec(unit)![1];
    expect(execStart).toBe(HAVEN_BIN);
    expect(execStart).toBe('/usr/bin/haven');
    const r = await inServer(['sh', '-c', `test -x ${execStart} && readlink -f ${execStart}`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('/usr/lib/node_modules/haven/bin/haven.js');
  });

  it('makes the haven user and group with the fixed ids', async () => {
    const r = await inServer(['sh', '-c', 'getent passwd haven; getent group haven']);
    const [passwd, group] = r.stdout.trim().split('\n');
    expect(passwd).toBe(`haven:x:${HAVEN_UID}:${HAVEN_GID}::/var/lib/haven:/usr/sbin/nologin`);
    expect(group).toBe(`haven:x:${HAVEN_GID}:`);
  });

  it('hands the data directory and every file on the volume to haven, 0700 at the top', () => {
    const walk = (d: string): string[] => [d, ...readdirSync(d).flatMap((n) => (lstatSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]))];
    const owners = walk(volume).map((p) => [p.slice(volume.length) || '/', lstatSync(p).uid, lstatSync(p).gid]);
    expect(owners).toEqual(walk(volume).map((p) => [p.slice(volume.length) || '/', HAVEN_UID, HAVEN_GID]));
    expect(owners.length).toBe(4);
    expect(statSync(volume).mode & 0o777).toBe(0o700);
  });

  it('systemd-analyze verify accepts the units', async () => {
    const units = ['haven.service', 'haven-metadata-guard.service', 'haven-node-restart.path', 'haven-node-restart.service'].map((u) => `/etc/systemd/system/${u}`);
    const r = await inServer(['systemd-analyze', 'verify', ...units]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // ...and does refuse a unit whose binary is missing (so the check above means something).
    writeFileSync(at('etc/systemd/system/broken.service'), '[Service]\nExecStart=/usr/local/bin/haven start\n');
    const bad = await inServer(['systemd-analyze', 'verify', '/etc/systemd/system/broken.service']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/\/usr\/local\/bin\/haven.*(not executable|No such file)/);
    rmSync(at('etc/systemd/system/broken.service'));
  });

  it('enables the node (it starts once its configuration arrives) and the Node.js upgrade watch', () => {
    expect(lstatSync(at('etc/systemd/system/multi-user.target.wants/haven.service')).isSymbolicLink()).toBe(true);
    expect(lstatSync(at('etc/systemd/system/multi-user.target.wants/haven-node-restart.path')).isSymbolicLink()).toBe(true);
  });

  it('`haven start --help` runs as the haven user', async () => {
    const r = await inServer([HAVEN_BIN, 'start', '--help'], { asUser: 'haven', env: { HOME: '/var/lib/haven' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('haven start');
    expect((await inServer(['id', '-u'], { asUser: 'haven' })).stdout.trim()).toBe(String(HAVEN_UID));
  });

  it('a second run changes nothing and succeeds (cloud-init may run it again)', async () => {
    const again = await inServer([SETUP_SCRIPT]);
    expect(again.stderr + again.stdout).toContain('haven-setup: done');
    expect(again.code).toBe(0);
  });

  it('rspamd\'s workers listen on loopback only', async () => {
    const r = await inServer(['rspamadm', 'configdump', 'worker']);
    expect(r.code).toBe(0);
    const sockets = [...r.stdout.matchAll(/bind_socket\s*=\s*"([^"]+)"/g)].map((m) => m[1]).sort();
    expect(sockets).toEqual(['127.0.0.1:11332', '127.0.0.1:11333', '127.0.0.1:11334', '127.0.0.1:11335']);
  });
});

describe('haven-apply in Debian 13', () => {
  const apply = (input: NodeConfigInput) => inServer([APPLY_SCRIPT], { stdin: configBundle(input).base64 });

  it('installs the bundle: config, secrets 0600, credential drop-in, authorized_keys; the units still verify', async () => {
    const r = await apply(bundleInput(['example.test', 'example.org']));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('haven-apply: installed /etc/haven/haven.yaml');
    expect(r.stdout).toContain('haven-apply: systemd is not running here: haven.service starts at the next boot');
    const mode = (p: string) => (statSync(at(p)).mode & 0o777).toString(8);
    expect(mode('etc/haven/haven.env')).toBe('600');
    expect(mode('etc/haven/credentials/master-key')).toBe('600');
    expect(mode('etc/haven/credentials')).toBe('700');
    expect(mode('root/.ssh/authorized_keys')).toBe('600');
    expect(readdirSync(at('etc/haven/credentials')).sort()).toEqual(['dkim.haven.example.org.pem', 'dkim.haven.example.test.pem', 'master-key']);
    // The node, as haven, reads its config file and nothing secret (systemd hands it those as root).
    expect((await inServer(['cat', '/etc/haven/haven.yaml'], { asUser: 'haven' })).code).toBe(0);
    for (const secret of ['/etc/haven/haven.env', '/etc/haven/credentials/master-key']) expect((await inServer(['cat', secret], { asUser: 'haven' })).code, secret).not.toBe(0);
    const verify = await inServer(['systemd-analyze', 'verify', '/etc/systemd/system/haven.service']);
    expect(verify.stderr).toBe('');
    expect(readFileSync(at('etc/systemd/system/haven.service.d/credentials.conf'), 'utf8')).toContain('LoadCredential=dkim.haven.example.org:/etc/haven/credentials/dkim.haven.example.org.pem');
    // verify reads the drop-in: a broken line in it is reported (so the clean result above means something).
    writeFileSync(at('etc/systemd/system/haven.service.d/zz-broken.conf'), '[Service]\nLoadCredential=bad/name:/nowhere\n');
    const broken = await inServer(['systemd-analyze', 'verify', '/etc/systemd/system/haven.service']);
    expect(broken.stderr).toContain('zz-broken.conf:2: Credential name "bad/name" not valid');
    rmSync(at('etc/systemd/system/haven.service.d/zz-broken.conf'));
    // The same bundle again: nothing to do.
    const same = await apply(bundleInput(['example.test', 'example.org']));
    expect(same.stdout).not.toContain('installed');
  });

  it('removes a dropped domain\'s key and its credential line', async () => {
    const r = await apply(bundleInput(['example.test']));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('haven-apply: removed /etc/haven/credentials/dkim.haven.example.org.pem');
    expect(readdirSync(at('etc/haven/credentials')).sort()).toEqual(['dkim.haven.example.test.pem', 'master-key']);
    expect(readFileSync(at('etc/systemd/system/haven.service.d/credentials.conf'), 'utf8')).not.toContain('example.org');
  });

  it('refuses another master key over existing data, and changes nothing', async () => {
    const before = readFileSync(at('etc/haven/credentials/master-key'), 'utf8');
    const r = await apply(bundleInput(['example.test', 'example.net'], 'cd'.repeat(32)));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('haven:masterKey is not the key this node\'s data is encrypted with; nothing was changed');
    expect(readFileSync(at('etc/haven/credentials/master-key'), 'utf8')).toBe(before);
    expect(readdirSync(at('etc/haven/credentials'))).not.toContain('dkim.haven.example.net.pem');
  });

  it('refuses a bundle that writes anywhere else', async () => {
    const evil = Buffer.from(
      (await run('sh', ['-c', 'd=$(mktemp -d) && mkdir -p "$d/etc/cron.d" && echo x > "$d/etc/cron.d/evil" && tar -c -C "$d" etc | base64'], { encoding: 'buffer' })).stdout,
    ).toString();
    const r = await inServer([APPLY_SCRIPT], { stdin: evil });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('the bundle holds etc/cron.d/evil, which is not a configuration file haven-apply installs');
    expect(() => statSync(at('etc/cron.d/evil'))).toThrow();
  });
});
