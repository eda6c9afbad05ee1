/**
 * @module infra/cloud-init
 * Renders the node's cloud-config, which only bootstraps: Node.js 24 LTS from
 * NodeSource's apt repository (key pinned by fingerprint, package pinned to
 * that origin), rspamd and Redis on loopback, the `haven` user with a fixed
 * UID/GID, the data volume mounted at the data directory, the Haven release,
 * the hardened systemd unit, a guard that hides the metadata service from
 * every non-root process, unattended security upgrades (Debian's and
 * NodeSource's; a new Node.js restarts Haven) and `haven-apply`, the entry
 * point through which `pulumi up` hands the node its configuration.
 *
 * Nothing here is secret or changes per domain or setting: Hetzner keeps user
 * data readable for the server's life and caps it at 32 KiB, and a change to
 * it replaces the server. Settings, secrets and DKIM keys travel over SSH on
 * every `pulumi up` instead (infra/node-config.ts builds the bundle,
 * infra/node.ts sends it, `haven-apply` below installs it). Pure: same input,
 * same text (tests run `cloud-init schema`, shellcheck, and the setup script
 * itself in a Debian 13 root filesystem).
 */
import { stringify } from 'yaml';
import { APPLY_SCRIPT, CONFIG_PATH, CREDENTIALS_DROPIN, DATA_DIR, ENV_PATH, HAVEN_BIN, RUNTIME_CREDENTIALS_DIR, SETUP_SCRIPT, UNIT_PATH } from './layout.js';
import { applyScript, setupScript } from './node-scripts.js';

export * from './layout.js';

/**
 * The node's environment under systemd; the benches run their nodes with it
 * too. MALLOC_MMAP_THRESHOLD_: glibc otherwise raises its mmap threshold once
 * the first 16 MiB scrypt buffer (a login) is freed and keeps every later one
 * in the thread pool's arenas, +65 MB RSS never returned (bench/idle.ts).
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production', MALLOC_MMAP_THRESHOLD_: '131072' };

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

export interface CloudInitInput {
  mailHost: string;
  /** Hetzner volume id: the device is /dev/disk/by-id/scsi-0HC_Volume_<id>. */
  volumeId: string;
  /** What `npm install --global` installs: a tarball URL, a git URL or a registry spec. */
  havenRelease: string;
  /** The oldest Node.js major the setup script accepts (default NODE_MAJOR; the rootfs test runs Debian's 20). */
  nodeMajor?: number;
}

export class CloudInitError extends Error {
  override name = 'CloudInitError';
}

/** Quotes a value for POSIX sh: single quotes, embedded quotes closed and escaped. */
export function shQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

export function volumeDevice(volumeId: string): string {
  if (!/^\d+$/.test(volumeId)) throw new CloudInitError(`volume id "${volumeId}" is not a Hetzner volume id (digits)`);
  return `/dev/disk/by-id/scsi-0HC_Volume_${volumeId}`;
}

/**
 * The service. Credentials (master key, DKIM keys) come from the drop-in
 * `haven-apply` writes, the secrets' environment from its EnvironmentFile:
 * until the first `haven-apply` the unit is enabled but its condition keeps it
 * from starting without a config.
 */
export function systemdUnit(): string {
  return `[Unit]
Description=Haven mail, calendar and contacts server
After=network-online.target haven-metadata-guard.service rspamd.service
Wants=network-online.target rspamd.service
Requires=haven-metadata-guard.service
# Never run on the root disk: without the volume an "empty" data dir would trigger a restore there.
RequiresMountsFor=${DATA_DIR}
AssertPathIsMountPoint=${DATA_DIR}
# Configuration arrives from \`pulumi up\` (${APPLY_SCRIPT}); until then there is nothing to run.
ConditionPathExists=${CONFIG_PATH}

[Service]
Type=simple
User=haven
Group=haven
ExecStart=${HAVEN_BIN} start --config ${CONFIG_PATH}
${Object.entries(SERVICE_ENV).map(([k, v]) => `Environment=${k}=${v}`).join('\n')}
EnvironmentFile=${ENV_PATH}
# Credentials: LoadCredential= lines in ${CREDENTIALS_DROPIN}. systemd (as root) copies those root-only
# files to ${RUNTIME_CREDENTIALS_DIR}, readable by this service's user alone. LoadCredentialEncrypted=
# would add nothing here: the host key it uses sits on the same disk with the same root-only mode, and
# Hetzner servers have no TPM.
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
# Nothing the node does needs the cloud metadata service.
IPAddressDeny=${METADATA_IP}/32

[Install]
WantedBy=multi-user.target
`;
}

const GUARD_NFT = `#!/usr/sbin/nft -f
# Hetzner's metadata service (${METADATA_IP}) serves this server's user data and identity to any
# local process. User data holds no secret, but nothing but root (cloud-init, hc-utils) needs it.
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


/**
 * rspamd and its Redis stay on loopback: only the node talks to them (spam.rspamdUrl,
 * RSPAMD_URL). local.d is rspamd's documented place for site settings; Redis keeps
 * Bayes and fuzzy data. Debian's redis-server already binds 127.0.0.1 and ::1 only.
 */
/**
 * rspamd modules a Haven server switches off, each because Haven's design
 * makes its per-message work wasted (or its memory better spent on the
 * node): sized for a 2 GB, 2-core server. docs/filtering.md measures what
 * rspamd costs per message. The test helper (test/helpers/rspamd.ts) runs
 * the same list, so tests and the bench see what a server runs.
 */
export const RSPAMD_MODULES_OFF: readonly { module: string; why: string }[] = [
  { module: 'greylist', why: 'Haven does not greylist (its own thresholds decide), so the module\'s Redis reads and writes per message buy nothing' },
  { module: 'ratelimit', why: 'Haven limits connections, unknown-recipient probes and logins itself' },
  { module: 'replies', why: 'it learns from outgoing mail, and Haven does not pass outgoing mail through rspamd' },
  { module: 'dkim_signing', why: 'Haven signs outgoing mail itself' },
  { module: 'neural', why: 'it needs thousands of learned messages and memory a 2 GB server keeps for the node' },
  // Haven verifies these itself on every message (mailauth, before rspamd answers) and adds its own
  // score for them to rspamd's (node/smtp/spam.ts), so rspamd repeating them would count them twice.
  { module: 'spf', why: 'Haven checks SPF itself and adds its own score for the result to rspamd\'s' },
  { module: 'dkim', why: 'Haven verifies DKIM signatures itself and adds its own score for the result to rspamd\'s' },
  { module: 'dmarc', why: 'Haven evaluates DMARC itself (and refuses p=reject failures) and adds its own score for the result to rspamd\'s' },
  { module: 'arc', why: 'Haven verifies and seals ARC itself' },
  { module: 'history_redis', why: 'it writes every scan to Redis for rspamd\'s web UI; Haven\'s X-Haven-Spam header and log already say what rspamd decided' },
];

/** rspamd scanner processes (worker "normal"): see RSPAMD_SCANNERS_WHY. The test helper and the bench run as many. */
export const RSPAMD_SCANNERS = 2;
const RSPAMD_SCANNERS_WHY =
  'Two processes on 2 cores: one scanner works on one message at a time, so the others queue behind it even while the node waits for a disk sync and a core is free; two keep both cores busy (bench smtp --compare: filtered/plain 0.58 with one, 0.67 with two). Each holds its own compiled rules, about 65 MB.';

const RSPAMD_FILES: readonly [string, string][] = [
  [
    '/etc/rspamd/local.d/worker-normal.inc',
    `# Written by cloud-init: the scanner the Haven node calls (spam.rspamdUrl).\nbind_socket = "127.0.0.1:11333";\n# ${RSPAMD_SCANNERS_WHY}\ncount = ${RSPAMD_SCANNERS};\n`,
  ],
  ['/etc/rspamd/local.d/worker-controller.inc', '# Written by cloud-init: learning and the web UI, loopback only (ssh -L to reach it).\nbind_socket = "127.0.0.1:11334";\n'],
  ['/etc/rspamd/local.d/worker-proxy.inc', '# Written by cloud-init: the milter proxy, unused by Haven; loopback only.\nbind_socket = "127.0.0.1:11332";\n'],
  ['/etc/rspamd/local.d/worker-fuzzy.inc', '# Written by cloud-init: fuzzy hash storage, loopback only.\nbind_socket = "127.0.0.1:11335";\n'],
  ['/etc/rspamd/local.d/redis.conf', '# Written by cloud-init: Redis on loopback for Bayes statistics and fuzzy hashes.\nservers = "127.0.0.1:6379";\n'],
  ...RSPAMD_MODULES_OFF.map(({ module, why }): [string, string] => [`/etc/rspamd/local.d/${module}.conf`, `# Written by cloud-init: off on a Haven server: ${why}.\nenabled = false;\n`]),
];

/** Packages the server installs (cloud-config `packages`); the rootfs test builds its image from this list. */
export const PACKAGES: readonly string[] = ['nodejs', 'nftables', 'unattended-upgrades', 'ca-certificates', 'rspamd', 'redis-server'];

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
    // Root logs in by key only: `pulumi up` configures the node as root over SSH (infra/node.ts).
    disable_root: false,
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
    packages: [...PACKAGES],
    // The haven user and group are made by the setup script, with fixed ids (cloud-init cannot fix a group's id).
    mounts: [[device, DATA_DIR, 'ext4', 'defaults,nofail,nodev,nosuid,noexec,x-systemd.device-timeout=300s', '0', '2']],
    // npm on a small server needs more than RAM alone.
    swap: { filename: '/var/swapfile', size: 1073741824, maxsize: 1073741824 },
    write_files: [
      file('/etc/haven/metadata-guard.nft', GUARD_NFT, '0644'),
      file('/etc/systemd/system/haven-metadata-guard.service', GUARD_UNIT, '0644'),
      file(UNIT_PATH, systemdUnit(), '0644'),
      file('/etc/systemd/system/haven-node-restart.path', NODE_RESTART_PATH, '0644'),
      file('/etc/systemd/system/haven-node-restart.service', NODE_RESTART_SERVICE, '0644'),
      file('/etc/apt/preferences.d/haven-nodejs', NODEJS_PIN, '0644'),
      file('/etc/apt/apt.conf.d/20auto-upgrades', AUTO_UPGRADES, '0644'),
      file('/etc/apt/apt.conf.d/51haven-nodesource', UNATTENDED_NODESOURCE, '0644'),
      file('/etc/apt/apt.conf.d/52haven-reboot', UNATTENDED_REBOOT, '0644'),
      ...RSPAMD_FILES.map(([path, content]) => file(path, content, '0644')),
      file(SETUP_SCRIPT, setupScript({ havenRelease: input.havenRelease, nodeMajor: input.nodeMajor ?? NODE_MAJOR }), '0700'),
      file(APPLY_SCRIPT, applyScript(), '0700'),
    ],
    runcmd: [[SETUP_SCRIPT]],
  };
  return '#cloud-config\n' + stringify(doc, { lineWidth: 0 });
}
