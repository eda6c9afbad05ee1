/**
 * @module infra/layout
 * Where things live on a Haven server: paths, the `haven` user's fixed ids,
 * the loopback services. Shared by the bootstrap (infra/cloud-init.ts), the
 * node's scripts (infra/node-scripts.ts) and its configuration bundle
 * (infra/node-config.ts).
 */

export const DATA_DIR = '/var/lib/haven';
export const CONFIG_PATH = '/etc/haven/haven.yaml';
export const ENV_PATH = '/etc/haven/haven.env';
export const CREDENTIALS_DIR = '/etc/haven/credentials';
/** Where systemd exposes LoadCredential= files to the service (only the service's user can read them). */
export const RUNTIME_CREDENTIALS_DIR = '/run/credentials/haven.service';
/** The unit drop-in `haven-apply` installs: one LoadCredential= per credential file (the set changes with the domains). */
export const CREDENTIALS_DROPIN = '/etc/systemd/system/haven.service.d/credentials.conf';
export const UNIT_PATH = '/etc/systemd/system/haven.service';
export const SETUP_SCRIPT = '/usr/local/sbin/haven-setup';
export const APPLY_SCRIPT = '/usr/local/sbin/haven-apply';
/**
 * Where `npm install --global` puts the release: NodeSource's npm uses its
 * node's prefix, /usr (not /usr/local as Debian's npm does). The setup script
 * names the prefix explicitly, so the binary lands at HAVEN_BIN whichever npm
 * build runs it (the rootfs test runs Debian's).
 */
export const NPM_PREFIX = '/usr';
export const HAVEN_BIN = `${NPM_PREFIX}/bin/haven`;
/**
 * The `haven` user and group ids, the same on every server, so a replacement
 * server reads the volume an older one wrote. Outside Debian's dynamic system
 * range (100-999, handed out from the top by package installs, which differ
 * between images) and far above the first login accounts (1000 up).
 */
export const HAVEN_UID = 2525;
export const HAVEN_GID = 2525;
/** rspamd's scanner (normal worker) on loopback: the node's spam.rspamdUrl. */
export const RSPAMD_URL = 'http://127.0.0.1:11333';
/** root's authorized_keys: the deploy key `pulumi up` connects with, and the operators' keys. */
export const AUTHORIZED_KEYS = '/root/.ssh/authorized_keys';
/** The fixed files of a configuration bundle; the credentials directory holds the rest. */
export const BUNDLE_FILES: readonly string[] = [CONFIG_PATH, ENV_PATH, CREDENTIALS_DROPIN, AUTHORIZED_KEYS];
