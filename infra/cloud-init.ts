/**
 * @module infra/cloud-init
 * Renders the node's cloud-config: Node.js 24 LTS from NodeSource's apt
 * repository (key pinned by fingerprint, package pinned to that origin), the
 * Haven release, a `haven` system user, the data volume mounted at the data
 * directory, the node's config, its secrets as root-only files handed to the
 * service as systemd credentials / an EnvironmentFile, a hardened systemd
 * unit, a guard that hides the metadata service from every non-root process,
 * and unattended security upgrades (Debian's and NodeSource's; a new Node.js
 * restarts Haven). Pure: same input, same text (the test runs
 * `cloud-init schema` and shellcheck on it).
 *
 * Why secrets are in user data at all: a replacement server must come up and
 * restore itself from the replica with nobody logged in, so it needs the
 * master key and the replica credentials at first boot. Hetzner serves user
 * data to any local process at 169.254.169.254, so the guard drops those
 * packets for every uid but root before Haven is installed, and the unit
 * denies the address again. The server ignores later user-data changes
 * (see infra/node.ts): a changed secret never replaces the server.
 */
import { stringify } from 'yaml';
import { DEFAULT_DMARC_POLICY, type DmarcPolicy } from '../node/dns/index.js';

/**
 * The node's environment under systemd; the benches run their nodes with it
 * too. MALLOC_MMAP_THRESHOLD_: glibc otherwise raises its mmap threshold once
 * the first 16 MiB scrypt buffer (a login) is freed and keeps every later one
 * in the thread pool's arenas, +65 MB RSS never returned (bench/idle.ts).
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production', MALLOC_MMAP_THRESHOLD_: '131072' };

export const DATA_DIR = '/var/lib/haven';
export const CONFIG_PATH = '/etc/haven/haven.yaml';
export const ENV_PATH = '/etc/haven/haven.env';
export const CREDENTIALS_DIR = '/etc/haven/credentials';
/** Where systemd exposes LoadCredential= files to the service (only the service's user can read them). */
export const RUNTIME_CREDENTIALS_DIR = '/run/credentials/haven.service';
export const SETUP_SCRIPT = '/usr/local/sbin/haven-setup';
export const HAVEN_BIN = '/usr/local/bin/haven';
const METADATA_IP = '169.254.169.254';

/**
 * Node.js comes from NodeSource: Debian 13's nodejs is 20.x, end of life since
 * 2026-04-30. 24 is an LTS line with security releases until 2028-04-30;
 * moving to the next LTS line is a change here and a new server.
 */
export const NODE_MAJOR = 24;
export const NODESOURCE_SITE = 'deb.nodesource.com';
export const NODESOURCE_REPO = `https://${NODESOURCE_SITE}/node_${NODE_MAJOR}.x`;
/**
 * The primary key fingerprint of NodeSource's repository signing key, the key
 * served at https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key (the
 * setup instructions in github.com/nodesource/distributions point there).
 * cloud-init fetches the key from the keyserver by this full fingerprint, and
 * gpg keeps only a key with exactly this fingerprint, so a keyserver cannot
 * substitute another. Taken from that key as many deployment scripts pin it
 * (this build machine has no network). Re-check before changing it:
 *   curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key \
 *     | gpg --show-keys --with-colons | awk -F: '$1 == "fpr" { print $10; exit }'
 * must print this value; on a running node
 *   gpg --show-keys /etc/apt/cloud-init.gpg.d/nodesource.gpg
 * shows the key apt trusts for the repository.
 */
export const NODESOURCE_KEY_FINGERPRINT = '6F71F525282841EEDAF851B42F59B5F99B1BE0B4';
/** Where the key comes from: the Ubuntu keyserver over HTTPS (port 443, like everything else the node fetches). */
export const NODESOURCE_KEYSERVER = 'hkps://keyserver.ubuntu.com';

export interface DkimPrivateKey {
  domain: string;
  selector: string;
  /** PKCS#8 or PKCS#1 PEM. */
  privateKeyPem: string;
}

export interface CloudInitInput {
  mailHost: string;
  /** Hetzner volume id: the device is /dev/disk/by-id/scsi-0HC_Volume_<id>. */
  volumeId: string;
  /** What `npm install --global` installs: a tarball URL, a git URL or a registry spec. */
  havenRelease: string;
  pop3: boolean;
  acmeEmail: string;
  /** s3://… replica URL, or '' for none. */
  replicaUrl: string;
  /** SPF terms infra publishes before -all (haven:spfExtra): the node's DNS list and doctor expect them too. */
  spfExtra?: readonly string[];
  /** The DMARC policy infra publishes (haven:dmarcPolicy): the node's DNS list and doctor expect it too. Default node/dns's. */
  dmarcPolicy?: DmarcPolicy;
  dkimKeys: readonly DkimPrivateKey[];
  secrets: {
    masterKey: string;
    edgeSecret: string;
    smarthost: string;
    replicaAccessKeyId: string;
    replicaSecretAccessKey: string;
  };
}

export class CloudInitError extends Error {
  override name = 'CloudInitError';
}

/** Quotes a value for POSIX sh: single quotes, embedded quotes closed and escaped. */
export function shQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** A systemd EnvironmentFile line. Double-quoted: systemd unescapes \\ and \" and expands nothing. */
function envLine(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new CloudInitError(`${name} contains a line break: secrets must be one line`);
  return `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"\n`;
}

export function volumeDevice(volumeId: string): string {
  if (!/^\d+$/.test(volumeId)) throw new CloudInitError(`volume id "${volumeId}" is not a Hetzner volume id (digits)`);
  return `/dev/disk/by-id/scsi-0HC_Volume_${volumeId}`;
}

/** The credential name the node finds a domain's DKIM key under in $CREDENTIALS_DIRECTORY. */
export function dkimCredentialName(k: Pick<DkimPrivateKey, 'domain' | 'selector'>): string {
  return `dkim.${k.selector}.${k.domain}`;
}

/** The node's config file (non-secret options only; secrets come from credentials and the environment). */
export function nodeConfig(input: Pick<CloudInitInput, 'mailHost' | 'pop3' | 'acmeEmail' | 'replicaUrl' | 'spfExtra' | 'dmarcPolicy'>): Record<string, unknown> {
  return {
    dataDir: DATA_DIR,
    hostname: input.mailHost,
    listenAddress: '::',
    ports: { smtp: 25, submission: 587, submissions: 465, imap: 143, imaps: 993, pop3: 110, pop3s: 995, http: 80, https: 443, admin: 8081 },
    masterKeyFile: `${RUNTIME_CREDENTIALS_DIR}/master-key`,
    replicaUrl: input.replicaUrl,
    // The SPF record infra publishes carries these terms (a relay's include): the node must expect the same one.
    spfExtra: [...(input.spfExtra ?? [])],
    // Likewise the DMARC policy: with reject published, a node expecting quarantine would call the record wrong.
    dmarcPolicy: input.dmarcPolicy ?? DEFAULT_DMARC_POLICY,
    tls: { acme: { enabled: true, email: input.acmeEmail, challenge: 'http-01' } },
    allowPlaintextAuthOnLoopback: false,
    pop3: { enabled: input.pop3 },
    log: { level: 'info' },
  };
}

/** The EnvironmentFile: secrets the node reads from its environment (HAVEN_* and the S3 client's AWS_*). */
export function nodeEnvironment(input: Pick<CloudInitInput, 'secrets'>): string {
  const s = input.secrets;
  return (
    '# Read by systemd (as root) for haven.service; mode 0600, root only.\n' +
    envLine('HAVEN_ADMIN_SECRET', s.edgeSecret) +
    (s.smarthost ? envLine('HAVEN_SMARTHOST', s.smarthost) : '') +
    (s.replicaAccessKeyId ? envLine('AWS_ACCESS_KEY_ID', s.replicaAccessKeyId) + envLine('AWS_SECRET_ACCESS_KEY', s.replicaSecretAccessKey) : '')
  );
}

export function systemdUnit(input: Pick<CloudInitInput, 'dkimKeys'>): string {
  const creds = [
    `LoadCredential=master-key:${CREDENTIALS_DIR}/master-key`,
    ...input.dkimKeys.map((k) => `LoadCredential=${dkimCredentialName(k)}:${CREDENTIALS_DIR}/${dkimCredentialName(k)}.pem`),
  ];
  return `[Unit]
Description=Haven mail, calendar and contacts server
After=network-online.target haven-metadata-guard.service
Wants=network-online.target
Requires=haven-metadata-guard.service
# Never run on the root disk: without the volume an "empty" data dir would trigger a restore there.
RequiresMountsFor=${DATA_DIR}
AssertPathIsMountPoint=${DATA_DIR}

[Service]
Type=simple
User=haven
Group=haven
ExecStart=${HAVEN_BIN} start --config ${CONFIG_PATH}
${Object.entries(SERVICE_ENV).map(([k, v]) => `Environment=${k}=${v}`).join('\n')}
EnvironmentFile=${ENV_PATH}
# Credentials: systemd (as root) copies these root-only files to ${RUNTIME_CREDENTIALS_DIR}, readable by
# this service's user alone. LoadCredentialEncrypted= would add nothing here: the host key it uses sits on
# the same disk with the same root-only mode, and Hetzner servers have no TPM.
${creds.join('\n')}
Restart=on-failure
RestartSec=5s
# First boot may restore every mailbox from the replica before listening.
TimeoutStartSec=infinity
TimeoutStopSec=60s
LimitNOFILE=65536
UMask=0077

# Hardening: the only privilege is binding ports below 1024; the only writable path is the data dir
# (plus a private /tmp). MemoryDenyWriteExecute is left off: V8's JIT needs writable code pages.
NoNewPrivileges=yes
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
ProtectSystem=strict
ReadWritePaths=${DATA_DIR}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# The metadata service serves user data, which holds secrets: this service never needs it.
IPAddressDeny=${METADATA_IP}/32

[Install]
WantedBy=multi-user.target
`;
}

const GUARD_NFT = `#!/usr/sbin/nft -f
# Hetzner's metadata service (${METADATA_IP}) serves this server's user data, which holds Haven's
# secrets, to any local process. Only root (cloud-init, hc-utils) may reach it.
table inet haven_guard
flush table inet haven_guard
table inet haven_guard {
\tchain output {
\t\ttype filter hook output priority filter; policy accept;
\t\tip daddr ${METADATA_IP} meta skuid != 0 counter reject
\t}
}
`;

const GUARD_UNIT = `[Unit]
Description=Hide the cloud metadata service from non-root processes
DefaultDependencies=no
Before=network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f /etc/haven/metadata-guard.nft

[Install]
WantedBy=multi-user.target
`;

/**
 * NodeSource's nodejs wins over every other candidate (1001), and Debian's nodejs and
 * npm never install (-1): NodeSource's nodejs carries npm and conflicts with Debian's.
 */
const NODEJS_PIN = `# Haven runs on NodeSource's Node.js ${NODE_MAJOR} LTS (written by cloud-init).
Package: nodejs
Pin: origin ${NODESOURCE_SITE}
Pin-Priority: 1001

Package: nodejs npm
Pin: release o=Debian
Pin-Priority: -1
`;

/** unattended-upgrades installs only from allowed origins: NodeSource's releases carry Node's security fixes. */
const UNATTENDED_NODESOURCE = `// Node.js security releases from NodeSource install unattended, like Debian's security updates.
Unattended-Upgrade::Origins-Pattern {
	"site=${NODESOURCE_SITE}";
};
`;

/**
 * cloud-init's apt module needs gpg and dirmngr to fetch a key by fingerprint; minimal
 * images may lack them and older cloud-init does not install them itself. bootcmd runs
 * before the apt module, on every boot, so it does nothing once they are there.
 */
const GPG_BOOTCMD = 'if ! command -v gpg >/dev/null 2>&1 || ! command -v dirmngr >/dev/null 2>&1; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnupg; fi';

/** The node runs the Node.js it started with: an upgraded /usr/bin/node (a security release) restarts it. */
const NODE_RESTART_PATH = `[Unit]
Description=Restart Haven when Node.js is upgraded

[Path]
PathChanged=/usr/bin/node

[Install]
WantedBy=multi-user.target
`;

const NODE_RESTART_SERVICE = `[Unit]
Description=Restart Haven on the upgraded Node.js

[Service]
Type=oneshot
ExecStart=/usr/bin/systemctl try-restart haven.service
`;

const AUTO_UPGRADES = `APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
APT::Periodic::AutocleanInterval "7";
`;

// Kernel and libc fixes need a reboot; a short one at night beats running a vulnerable kernel for months.
// Senders retry for days, so a minute of downtime loses no mail.
const UNATTENDED_REBOOT = `Unattended-Upgrade::Automatic-Reboot "true";
Unattended-Upgrade::Automatic-Reboot-Time "04:30";
`;

/** The first-boot script run from runcmd. Idempotent, so a re-run after a failure is safe. */
export function setupScript(input: Pick<CloudInitInput, 'havenRelease'>): string {
  const mountUnit = 'var-lib-haven.mount';
  return `#!/bin/sh
# Haven first-boot setup, run once by cloud-init (runcmd). Safe to run again by hand.
set -eu

DATA_DIR=${shQuote(DATA_DIR)}
RELEASE=${shQuote(input.havenRelease)}

# 1. Hide the metadata service (it serves user data, which holds secrets) from non-root processes.
systemctl daemon-reload
systemctl enable --now haven-metadata-guard.service

# 2. Haven needs NodeSource's Node.js ${NODE_MAJOR} (cloud-config: apt source, pin); Debian's older one is pinned away.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= ${NODE_MAJOR} ? 0 : 1)' 2>/dev/null; then
  echo "haven-setup: Node.js ${NODE_MAJOR} is not installed (node: $(node --version 2>/dev/null || echo missing)); see /var/log/cloud-init.log for the NodeSource apt source, run apt-get update && apt-get install nodejs, then run $0 again" >&2
  exit 1
fi

# 3. Install the Haven release once; upgrades are deliberate, by hand or by replacing the server.
if ! command -v haven >/dev/null 2>&1; then
  npm install --global --omit=dev --no-audit --no-fund "$RELEASE"
fi
test -x ${shQuote(HAVEN_BIN)} || { echo "haven-setup: ${HAVEN_BIN} missing after npm install; check the release in haven:havenRelease" >&2; exit 1; }

# 4. The data volume may attach after first boot starts: wait for its mount (fstab: nofail, 5 minute device timeout).
systemctl start ${mountUnit} || true
if ! mountpoint -q "$DATA_DIR"; then
  echo "haven-setup: the data volume is not mounted at $DATA_DIR; check the volume attachment in the Hetzner console, then run $0 again" >&2
  exit 1
fi
chown haven:haven "$DATA_DIR"
chmod 0700 "$DATA_DIR"

# 5. Start Haven. On an empty data directory with a replica configured, \`haven start\` restores first.
systemctl enable --now haven.service
# Unattended Node.js security upgrades take effect: a new /usr/bin/node restarts Haven.
systemctl enable --now haven-node-restart.path
`;
}

/** The complete cloud-config document. */
export function renderCloudInit(input: CloudInitInput): string {
  const device = volumeDevice(input.volumeId);
  const dot = input.mailHost.indexOf('.');
  if (dot <= 0) throw new CloudInitError(`mail host "${input.mailHost}" is not fully qualified: use e.g. mail.example.com`);
  const file = (path: string, content: string, permissions: string) => ({ path, content, owner: 'root:root', permissions });
  const doc = {
    hostname: input.mailHost.slice(0, dot),
    fqdn: input.mailHost,
    prefer_fqdn_over_hostname: true,
    manage_etc_hosts: true,
    ssh_pwauth: false,
    package_update: true,
    package_upgrade: true,
    bootcmd: [GPG_BOOTCMD],
    // NodeSource's repository for the current Node LTS, its key pinned by fingerprint and written to its own
    // keyring ($KEY_FILE: /etc/apt/cloud-init.gpg.d/nodesource.gpg), trusted for this source alone.
    apt: {
      sources: {
        nodesource: {
          source: `deb [signed-by=$KEY_FILE] ${NODESOURCE_REPO} nodistro main`,
          keyid: NODESOURCE_KEY_FINGERPRINT,
          keyserver: NODESOURCE_KEYSERVER,
        },
      },
    },
    // nodejs comes from NodeSource (pinned in /etc/apt/preferences.d) and carries npm.
    packages: ['nodejs', 'nftables', 'unattended-upgrades', 'ca-certificates'],
    groups: ['haven'],
    users: [
      'default',
      { name: 'haven', system: true, primary_group: 'haven', homedir: DATA_DIR, no_create_home: true, shell: '/usr/sbin/nologin', lock_passwd: true },
    ],
    mounts: [[device, DATA_DIR, 'ext4', 'defaults,nofail,nodev,nosuid,noexec,x-systemd.device-timeout=300s', '0', '2']],
    // npm on a small server needs more than RAM alone.
    swap: { filename: '/var/swapfile', size: 1073741824, maxsize: 1073741824 },
    write_files: [
      file(CONFIG_PATH, stringify(nodeConfig(input)), '0644'),
      file(ENV_PATH, nodeEnvironment(input), '0600'),
      file(`${CREDENTIALS_DIR}/master-key`, input.secrets.masterKey + '\n', '0600'),
      ...input.dkimKeys.map((k) => file(`${CREDENTIALS_DIR}/${dkimCredentialName(k)}.pem`, k.privateKeyPem.trimEnd() + '\n', '0600')),
      file('/etc/haven/metadata-guard.nft', GUARD_NFT, '0644'),
      file('/etc/systemd/system/haven-metadata-guard.service', GUARD_UNIT, '0644'),
      file('/etc/systemd/system/haven.service', systemdUnit(input), '0644'),
      file('/etc/systemd/system/haven-node-restart.path', NODE_RESTART_PATH, '0644'),
      file('/etc/systemd/system/haven-node-restart.service', NODE_RESTART_SERVICE, '0644'),
      file('/etc/apt/preferences.d/haven-nodejs', NODEJS_PIN, '0644'),
      file('/etc/apt/apt.conf.d/20auto-upgrades', AUTO_UPGRADES, '0644'),
      file('/etc/apt/apt.conf.d/51haven-nodesource', UNATTENDED_NODESOURCE, '0644'),
      file('/etc/apt/apt.conf.d/52haven-reboot', UNATTENDED_REBOOT, '0644'),
      file(SETUP_SCRIPT, setupScript(input), '0700'),
    ],
    runcmd: [[SETUP_SCRIPT]],
  };
  return '#cloud-config\n' + stringify(doc, { lineWidth: 0 });
}
