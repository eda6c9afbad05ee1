/**
 * @module test/infra/cloud-init
 * The node's rendered cloud-config, checked by the real tools: Debian's
 * `cloud-init schema` validates the document and `shellcheck` every shell
 * script in it (CI installs the Debian packages cloud-init and shellcheck).
 * It only bootstraps: nothing secret and nothing per domain in it (Hetzner
 * keeps user data for the server's life and caps it at 32 KiB), the unit
 * runs the binary where npm puts it, the service is locked down, rspamd
 * listens on loopback only. test/infra/first-boot.test.ts runs the setup
 * script for real.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CloudInitError, HAVEN_BIN, HAVEN_GID, HAVEN_UID, NODESOURCE_KEY_FINGERPRINT, PACKAGES, RSPAMD_MODULES_OFF, RSPAMD_SCANNERS, renderCloudInit, shQuote, type CloudInitInput } from '../../infra/cloud-init.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'haven-cloud-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function input(over: Partial<CloudInitInput> = {}): CloudInitInput {
  return {
    mailHost: 'mail.example.com',
    volumeId: '4242',
    havenRelease: "https://releases.example.net/haven 0.1.0's.tgz",
    ...over,
  };
}

let n = 0;
function save(text: string, name = `file-${n++}`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function exitCode(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err; // ENOENT: the tool is missing, which must fail the test
    return { code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

type Doc = { write_files: { path: string; content: string; owner: string; permissions: string }[]; runcmd: unknown[]; [k: string]: unknown };
const doc = (i = input()): Doc => parseYaml(renderCloudInit(i));
const file = (d: Doc, path: string) => {
  const f = d.write_files.find((w) => w.path === path);
  if (!f) throw new Error(`no ${path}`);
  return f;
};

/** Every shell script the document carries: shebang files and shell-string runcmd/bootcmd entries. */
function shellScripts(d: Doc): { name: string; text: string }[] {
  const scripts = d.write_files.filter((f) => /^#!\s*\/(usr\/)?bin\/(env\s+)?(ba)?sh\b/.test(f.content)).map((f) => ({ name: f.path, text: f.content }));
  for (const key of ['runcmd', 'bootcmd'] as const) {
    const cmds = (d[key] as unknown[] | undefined) ?? [];
    cmds.forEach((c, i) => {
      if (typeof c === 'string') scripts.push({ name: `${key}[${i}]`, text: `#!/bin/sh\n${c}\n` });
    });
  }
  return scripts;
}

describe('cloud-init schema', () => {
  it('the rendered document is valid cloud-config', async () => {
    const r = await exitCode('cloud-init', ['schema', '--config-file', save(renderCloudInit(input()), 'user-data.yaml')]);
    expect(r.out).toContain('Valid cloud-config');
    expect(r.code).toBe(0);
  });

  it('the validator does reject a broken document (so the check above means something)', async () => {
    const broken = renderCloudInit(input()).replace('permissions: "0700"', 'permissions: 700');
    const r = await exitCode('cloud-init', ['schema', '--config-file', save(broken)]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/permissions/);
  });
});

describe('shell scripts', () => {
  it('every shell script in the document passes shellcheck', async () => {
    const scripts = shellScripts(doc());
    expect(scripts.map((s) => s.name)).toEqual(expect.arrayContaining(['/usr/local/sbin/haven-setup', '/usr/local/sbin/haven-apply']));
    for (const s of scripts) {
      const r = await exitCode('shellcheck', ['--severity=style', save(s.text)]);
      expect(r.out, s.name).toBe('');
      expect(r.code, s.name).toBe(0);
    }
  });

  it('shellcheck does flag a bad script (so the check above means something)', async () => {
    const r = await exitCode('shellcheck', [save('#!/bin/sh\nrm -rf $1/data\n')]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('SC2086');
  });

  it('runcmd runs only the setup script, which is root-only and quotes the release', async () => {
    const d = doc();
    expect(d.runcmd).toEqual([['/usr/local/sbin/haven-setup']]);
    const setup = file(d, '/usr/local/sbin/haven-setup');
    expect([setup.owner, setup.permissions]).toEqual(['root:root', '0700']);
    expect(file(d, '/usr/local/sbin/haven-apply')).toMatchObject({ owner: 'root:root', permissions: '0700' });
    // The release string survives the shell verbatim, quotes and spaces included.
    const { stdout } = await run('sh', ['-c', `RELEASE=${shQuote(input().havenRelease)}; printf %s "$RELEASE"`]);
    expect(stdout).toBe(input().havenRelease);
    expect(setup.content).toContain(`RELEASE=${shQuote(input().havenRelease)}`);
  });

  it('installs the release under npm prefix /usr, where the unit looks for it, and checks it is there', () => {
    const setup = file(doc(), '/usr/local/sbin/haven-setup').content;
    expect(HAVEN_BIN).toBe('/usr/bin/haven');
    expect(setup).toContain("npm install --global --prefix '/usr' --omit=dev");
    expect(setup).toContain(`HAVEN_BIN='/usr/bin/haven'`);
    expect(setup).toMatch(/^test -x "\$HAVEN_BIN" \|\| fail/m);
  });

  it('makes the haven user and group with their fixed ids, and hands every file on the volume to them', () => {
    const setup = file(doc(), '/usr/local/sbin/haven-setup').content;
    expect(setup).toContain(`groupadd --system --gid ${HAVEN_GID} haven`);
    expect(setup).toContain(`useradd --system --uid ${HAVEN_UID} --gid haven`);
    expect(setup).toContain('find "$DATA_DIR" -xdev \\( ! -user haven -o ! -group haven \\) -exec chown -h haven:haven {} +');
    // cloud-init's users module cannot fix a group id, so the document makes no haven user itself.
    expect(doc().users).toBeUndefined();
  });
});

describe('bootstrap only', () => {
  it('carries nothing secret and nothing per domain: no config, environment or credential file', () => {
    const d = doc();
    const paths = d.write_files.map((f) => f.path);
    for (const p of ['/etc/haven/haven.yaml', '/etc/haven/haven.env']) expect(paths).not.toContain(p);
    expect(paths.filter((p) => p.startsWith('/etc/haven/credentials'))).toEqual([]);
    const text = renderCloudInit(input());
    expect(text).not.toMatch(/PRIVATE KEY|HAVEN_ADMIN_SECRET|AWS_SECRET|smtp:\/\//);
    // Deterministic: the same bootstrap never replaces the server by itself.
    expect(renderCloudInit(input())).toBe(text);
  });

  it('stays the same size whatever the domains, far below Hetzner\'s 32 KiB', () => {
    const size = Buffer.byteLength(renderCloudInit(input()));
    // About 16 KiB, whatever the domains and settings: the limit is 32 KiB.
    expect(size).toBeLessThan(20 * 1024);
  });

  it('refuses input it cannot render safely', () => {
    expect(() => renderCloudInit(input({ volumeId: '42; rm -rf /' }))).toThrow(CloudInitError);
    expect(() => renderCloudInit(input({ mailHost: 'localhost' }))).toThrow(/not fully qualified/);
  });
});

describe('the service', () => {
  it('runs the installed binary as the haven user under a locked-down unit, on the mounted volume only', () => {
    const d = doc();
    const unit = file(d, '/etc/systemd/system/haven.service').content;
    for (const line of [
      'User=haven',
      'ExecStart=/usr/bin/haven start --config /etc/haven/haven.yaml',
      'ConditionPathExists=/etc/haven/haven.yaml',
      'NoNewPrivileges=yes',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/haven',
      'ProtectHome=yes',
      'PrivateDevices=yes',
      'RequiresMountsFor=/var/lib/haven',
      'AssertPathIsMountPoint=/var/lib/haven',
      'IPAddressDeny=169.254.169.254/32',
      'Requires=haven-metadata-guard.service',
      'EnvironmentFile=/etc/haven/haven.env',
      'Environment=MALLOC_MMAP_THRESHOLD_=131072',
    ]) {
      expect(unit.split('\n'), line).toContain(line);
    }
    expect(unit.split('\n').filter((l) => l.startsWith('ReadWritePaths='))).toEqual(['ReadWritePaths=/var/lib/haven']);
    // Credentials come from the drop-in haven-apply installs, which changes with the domains.
    expect(unit).not.toMatch(/^LoadCredential=/m);
    expect(d.mounts).toEqual([['/dev/disk/by-id/scsi-0HC_Volume_4242', '/var/lib/haven', 'ext4', 'defaults,nofail,nodev,nosuid,noexec,x-systemd.device-timeout=300s', '0', '2']]);
  });

  it('hides the metadata service from every non-root process and upgrades itself', () => {
    const d = doc();
    expect(file(d, '/etc/haven/metadata-guard.nft').content).toMatch(/ip daddr 169\.254\.169\.254 meta skuid != 0 counter reject/);
    expect(file(d, '/etc/systemd/system/haven-metadata-guard.service').content).toContain('ExecStart=/usr/sbin/nft -f /etc/haven/metadata-guard.nft');
    // The guard goes up before Haven is even installed.
    const setup = file(d, '/usr/local/sbin/haven-setup').content;
    expect(setup.indexOf('haven-metadata-guard')).toBeLessThan(setup.indexOf('npm install'));
    expect(d.packages).toEqual(expect.arrayContaining(['nodejs', 'nftables', 'unattended-upgrades']));
    expect(file(d, '/etc/apt/apt.conf.d/20auto-upgrades').content).toContain('APT::Periodic::Unattended-Upgrade "1";');
  });

  it('installs rspamd and Redis, rspamd\'s workers bound to loopback', () => {
    const d = doc();
    expect(d.packages).toEqual([...PACKAGES]);
    expect(d.packages).toEqual(expect.arrayContaining(['rspamd', 'redis-server']));
    expect(file(d, '/etc/rspamd/local.d/worker-normal.inc').content).toContain('bind_socket = "127.0.0.1:11333";');
    expect(file(d, '/etc/rspamd/local.d/worker-controller.inc').content).toContain('bind_socket = "127.0.0.1:11334";');
    expect(file(d, '/etc/rspamd/local.d/worker-proxy.inc').content).toContain('bind_socket = "127.0.0.1:11332";');
    expect(file(d, '/etc/rspamd/local.d/worker-fuzzy.inc').content).toContain('bind_socket = "127.0.0.1:11335";');
  });

  // rspamd's own reading of the files (rspamadm configdump, Debian's rspamd): two scanner processes,
  // and the modules whose work Haven does itself (or never asks for) explicitly disabled.
  it('sizes rspamd for a 2-core, 2 GB server, as rspamd itself reads the files', async () => {
    const d = doc();
    const confdir = mkdtempSync(join(dir, 'rspamd-'));
    mkdirSync(join(confdir, 'local.d'));
    for (const f of d.write_files.filter((w) => w.path.startsWith('/etc/rspamd/local.d/'))) writeFileSync(join(confdir, 'local.d', f.path.split('/').pop()!), f.content);
    const dump = (...args: string[]) => run('rspamadm', [`--var=LOCAL_CONFDIR=${confdir}`, 'configdump', ...args]).then((r) => r.stdout);
    expect(await dump('worker')).toMatch(new RegExp(`normal \\{[^}]*count = ${RSPAMD_SCANNERS};`));
    expect(RSPAMD_SCANNERS).toBe(2);
    const disabled = /Modules disabled \(explicitly\): (.*)/.exec(await dump('-m'))?.[1].split(/,\s*/) ?? [];
    expect(RSPAMD_MODULES_OFF.map((m) => m.module)).toEqual(['greylist', 'ratelimit', 'replies', 'dkim_signing', 'neural', 'spf', 'dkim', 'dmarc', 'arc', 'history_redis']);
    expect(disabled).toEqual(expect.arrayContaining(RSPAMD_MODULES_OFF.map((m) => m.module)));
  });
});

describe('Node.js from NodeSource', () => {
  const NODESOURCE = 'https://deb.nodesource.com/node_24.x';

  it('adds the NodeSource 24.x repository with its key pinned by fingerprint in its own keyring', () => {
    const d = doc();
    expect(d.apt).toEqual({
      sources: {
        nodesource: {
          source: `deb [signed-by=$KEY_FILE] ${NODESOURCE} nodistro main`,
          keyid: '6F71F525282841EEDAF851B42F59B5F99B1BE0B4',
          keyserver: 'hkps://keyserver.ubuntu.com',
        },
      },
    });
    // A full fingerprint (a short key id could be forged on a keyserver).
    expect(NODESOURCE_KEY_FINGERPRINT).toMatch(/^[0-9A-F]{40}$/);
    // NodeSource's nodejs carries npm and conflicts with Debian's npm package: asking for both would fail the install.
    expect(d.packages).toContain('nodejs');
    expect(d.packages).not.toContain('npm');
    // cloud-init's apt module needs gpg (and dirmngr) to fetch the key; bootcmd runs before it.
    expect(d.bootcmd).toEqual([expect.stringMatching(/command -v gpg .*apt-get install -y -q gnupg/)]);
  });

  /**
   * apt's own resolver on a scratch state: a NodeSource list and a Debian list
   * whose nodejs is even newer. With the pin NodeSource's wins and Debian's
   * npm is never a candidate; without it Debian's would win.
   */
  it('pins nodejs to NodeSource: apt never picks Debian\'s nodejs or npm', async () => {
    const root = join(dir, 'apt');
    const lists = join(root, 'lists');
    for (const p of [join(lists, 'partial'), join(root, 'empty'), join(root, 'cache', 'archives', 'partial')]) mkdirSync(p, { recursive: true });
    writeFileSync(join(root, 'status'), '');
    writeFileSync(join(root, 'sources.list'), `deb [trusted=yes] ${NODESOURCE} nodistro main\ndeb [trusted=yes] http://deb.debian.org/debian trixie main\n`);
    const release = (origin: string, codename: string) => `Origin: ${origin}\nLabel: ${origin}\nSuite: ${codename}\nCodename: ${codename}\nComponents: main\nArchitectures: amd64\n`;
    const pkg = (name: string, version: string, extra = '') => `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\n${extra}Filename: pool/${name}_${version}.deb\nSize: 1\nDescription: test\n\n`;
    writeFileSync(join(lists, 'deb.nodesource.com_node%5f24.x_dists_nodistro_Release'), release('Node Source', 'nodistro'));
    writeFileSync(join(lists, 'deb.nodesource.com_node%5f24.x_dists_nodistro_main_binary-amd64_Packages'), pkg('nodejs', '24.11.1-1nodesource1', 'Provides: npm\nConflicts: npm\n'));
    writeFileSync(join(lists, 'deb.debian.org_debian_dists_trixie_Release'), release('Debian', 'trixie'));
    writeFileSync(join(lists, 'deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages'), pkg('nodejs', '99.0.0+dfsg-1') + pkg('npm', '9.2.0~ds1-3'));
    const policy = async (preferences: string) => {
      const opts = {
        'Dir::Etc::SourceList': join(root, 'sources.list'),
        'Dir::Etc::SourceParts': join(root, 'empty'),
        'Dir::Etc::Preferences': preferences,
        'Dir::Etc::PreferencesParts': join(root, 'empty'),
        'Dir::State::Lists': lists,
        'Dir::State::status': join(root, 'status'),
        'Dir::Cache': join(root, 'cache'),
        'APT::Architecture': 'amd64',
      };
      const { stdout } = await run('apt-cache', [...Object.entries(opts).flatMap(([k, v]) => ['-o', `${k}=${v}`]), 'policy', 'nodejs', 'npm']);
      const candidate = (name: string) => new RegExp(`^${name}:\\n(?:.*\\n)*?  Candidate: (.*)$`, 'm').exec(stdout)?.[1];
      return { nodejs: candidate('nodejs'), npm: candidate('npm') };
    };
    const pin = file(doc(), '/etc/apt/preferences.d/haven-nodejs');
    expect([pin.owner, pin.permissions]).toEqual(['root:root', '0644']);
    expect(await policy(save(pin.content, 'preferences'))).toEqual({ nodejs: '24.11.1-1nodesource1', npm: '(none)' });
    // The same state without the pin: Debian's newer nodejs would win (so the check above means something).
    expect(await policy(join(root, 'no-preferences'))).toEqual({ nodejs: '99.0.0+dfsg-1', npm: '9.2.0~ds1-3' });
  });

  it('lets unattended-upgrades install NodeSource\'s releases', async () => {
    const d = doc();
    const conf = file(d, '/etc/apt/apt.conf.d/51haven-nodesource');
    // apt's own parser reads it, and the pattern adds to Debian's defaults rather than replacing them.
    const { stdout } = await run('apt-config', ['-c', save(conf.content, 'unattended.conf'), 'dump', 'Unattended-Upgrade::Origins-Pattern']);
    expect(stdout.split('\n').filter((l) => l.startsWith('Unattended-Upgrade::Origins-Pattern::'))).toEqual(['Unattended-Upgrade::Origins-Pattern:: "site=deb.nodesource.com";']);
    // The allowed site is the repository's host, the one the pin names.
    expect(new URL(NODESOURCE).host).toBe('deb.nodesource.com');
    expect(file(d, '/etc/apt/preferences.d/haven-nodejs').content).toContain('Pin: origin deb.nodesource.com\nPin-Priority: 1001');
    // An upgraded node restarts Haven, or the fix would wait for the next reboot.
    expect(file(d, '/etc/systemd/system/haven-node-restart.path').content).toContain('PathChanged=/usr/bin/node');
    expect(file(d, '/etc/systemd/system/haven-node-restart.service').content).toContain('ExecStart=/usr/bin/systemctl try-restart haven.service');
    expect(file(d, '/usr/local/sbin/haven-setup').content).toMatch(/^systemctl enable haven.service haven-node-restart.path\nsystemctl start haven-node-restart.path$/m);
  });

  it('the setup script refuses to install Haven on a Node.js older than 24', async () => {
    const setup = file(doc(), '/usr/local/sbin/haven-setup').content;
    const check = /^if ! (node -e '.*') 2>\/dev\/null; then$/m.exec(setup);
    expect(check, 'the version check').not.toBeNull();
    expect(setup.indexOf(check![0])).toBeLessThan(setup.indexOf('npm install'));
    // The check itself, run by this test's Node with a stand-in for process.versions.node.
    const [, cmd] = check!;
    const script = cmd.slice("node -e '".length, -1);
    for (const [version, code] of [['20.19.2', 1], ['24.0.0', 0], ['26.1.0', 0]] as const) {
      const r = await exitCode(process.execPath, ['-e', `Object.defineProperty(process.versions, 'node', { value: '${version}' }); ${script}`]);
      expect(r.code, version).toBe(code);
    }
  });
});
