/**
 * @module infra/node-scripts
 * The two root-only shell scripts cloud-init installs on the server:
 *
 * - `haven-setup` runs once at first boot (runcmd): the metadata guard, the
 *   `haven` user and group with their fixed ids, the release under npm's
 *   /usr prefix, the volume (every file on it handed to `haven`), the units.
 * - `haven-apply` is what `pulumi up` runs over SSH (infra/node.ts) with the
 *   configuration bundle on standard input (infra/node-config.ts): it
 *   installs the files that changed, removes the credentials no longer sent,
 *   and restarts the node when its configuration changed.
 *
 * Both are idempotent and print what they did and never a secret: `pulumi up`
 * shows haven-apply's output to the operator.
 */
import { BUNDLE_FILES, CONFIG_PATH, CREDENTIALS_DIR, DATA_DIR, HAVEN_BIN, HAVEN_GID, HAVEN_UID, NPM_PREFIX, SETUP_SCRIPT } from './layout.js';

/** Quotes a value for POSIX sh: single quotes, embedded quotes closed and escaped. */
function q(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** The first-boot script run from runcmd. Safe to run again by hand. */
export function setupScript(input: { havenRelease: string; nodeMajor: number }): string {
  const mountUnit = 'var-lib-haven.mount';
  return `#!/bin/sh
# Haven first-boot setup, run once by cloud-init (runcmd). Safe to run again by hand.
set -eu

DATA_DIR=${q(DATA_DIR)}
RELEASE=${q(input.havenRelease)}
HAVEN_BIN=${q(HAVEN_BIN)}

fail() { echo "haven-setup: $*" >&2; exit 1; }

# 1. Hide the metadata service from non-root processes.
systemctl daemon-reload
systemctl enable haven-metadata-guard.service
systemctl start haven-metadata-guard.service

# 2. Haven needs Node.js ${input.nodeMajor} or later (NodeSource's, from the cloud-config's apt source and pin).
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= ${input.nodeMajor} ? 0 : 1)' 2>/dev/null; then
  fail "Node.js ${input.nodeMajor} is not installed (node: $(node --version 2>/dev/null || echo missing)); see /var/log/cloud-init.log for the NodeSource apt source, run apt-get update && apt-get install nodejs, then run $0 again"
fi

# 3. The haven user and group, with the same ids on every server: a replacement server reads the volume
#    an older one wrote.
if ! getent group haven >/dev/null; then
  if getent group ${HAVEN_GID} >/dev/null; then fail "group id ${HAVEN_GID} belongs to $(getent group ${HAVEN_GID} | cut -d: -f1), not haven: free it, then run $0 again"; fi
  groupadd --system --gid ${HAVEN_GID} haven
fi
if ! getent passwd haven >/dev/null; then
  if getent passwd ${HAVEN_UID} >/dev/null; then fail "user id ${HAVEN_UID} belongs to $(getent passwd ${HAVEN_UID} | cut -d: -f1), not haven: free it, then run $0 again"; fi
  useradd --system --uid ${HAVEN_UID} --gid haven --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin haven
fi
if [ "$(id -u haven)" != ${HAVEN_UID} ] || [ "$(id -g haven)" != ${HAVEN_GID} ]; then
  fail "user haven has ids $(id -u haven):$(id -g haven), not ${HAVEN_UID}:${HAVEN_GID}: change them (usermod -u ${HAVEN_UID} haven; groupmod -g ${HAVEN_GID} haven), then run $0 again"
fi

# 4. The Haven release, once, under npm's /usr prefix (NodeSource's default, named so the path never
#    depends on the npm build): the unit runs $HAVEN_BIN. Upgrades: haven upgrade, or a new server.
if [ ! -x "$HAVEN_BIN" ]; then
  npm install --global --prefix ${q(NPM_PREFIX)} --omit=dev --no-audit --no-fund "$RELEASE"
fi
test -x "$HAVEN_BIN" || fail "$HAVEN_BIN missing after npm install; check the release in haven:havenRelease"

# 5. The data volume may attach after first boot starts: wait for its mount (fstab: nofail, 5 minute device timeout).
systemctl start ${mountUnit} || true
mountpoint -q "$DATA_DIR" || fail "the data volume is not mounted at $DATA_DIR; check the volume attachment in the Hetzner console, then run $0 again"
# Every file, not just the top: a volume from an older server may carry other ids.
find "$DATA_DIR" -xdev \\( ! -user haven -o ! -group haven \\) -exec chown -h haven:haven {} +
chmod 0700 "$DATA_DIR"

# 6. Enable the node; it starts once \`pulumi up\` has delivered its configuration (haven-apply), and on every
#    boot after. On an empty data directory with a replica configured, \`haven start\` restores first.
systemctl enable haven.service haven-node-restart.path
systemctl start haven-node-restart.path
if [ -f ${q(CONFIG_PATH)} ]; then systemctl restart haven.service; fi
echo "haven-setup: done; $HAVEN_BIN installed, $DATA_DIR ready"
`;
}

/** Where a bundle may write: the fixed files plus any file directly in the credentials directory. */
function allowedCase(): string {
  const cred = CREDENTIALS_DIR.slice(1);
  return `${BUNDLE_FILES.map((f) => f.slice(1)).join('|')}|${cred}/*`;
}

/**
 * The script `pulumi up` runs over SSH, the bundle on standard input. Waits
 * for the bootstrap, installs what changed, removes credentials no longer
 * sent (a removed domain's DKIM key), refuses a changed master key over
 * existing data, restarts the node only when its configuration changed.
 */
export function applyScript(): string {
  const cred = CREDENTIALS_DIR.slice(1);
  return `#!/bin/sh
# Haven configuration from \`pulumi up\` (over SSH, the bundle on standard input): a base64 tar of
# the node's config, environment, credentials, credential drop-in and root's authorized_keys.
# Prints what it changed, never a secret.
set -eu
umask 077

DATA_DIR=${q(DATA_DIR)}
HAVEN_BIN=${q(HAVEN_BIN)}
CRED=${q(cred)}

say() { echo "haven-apply: $*"; }
fail() { echo "haven-apply: $*" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/new"
base64 -d >"$stage/bundle.tar" || fail "standard input is not a configuration bundle (base64): run pulumi up"
tar -x -f "$stage/bundle.tar" -C "$stage/new" --no-same-owner || fail "the configuration bundle is not a tar archive: run pulumi up"
(cd "$stage/new" && find . ! -type d | sed 's|^\\./||' | LC_ALL=C sort) >"$stage/list"
while IFS= read -r f; do
  case "$f" in
    ${allowedCase()}) ;;
    *) fail "the bundle holds $f, which is not a configuration file haven-apply installs" ;;
  esac
  case "$f" in "$CRED"/*/*) fail "the bundle holds $f: credentials sit directly in /$CRED" ;; esac
  test -f "$stage/new/$f" || fail "the bundle's $f is not a regular file"
done <"$stage/list"
for f in ${BUNDLE_FILES.filter((f) => !f.startsWith('/root/')).map((f) => f.slice(1)).join(' ')} "$CRED/master-key"; do
  test -f "$stage/new/$f" || fail "the bundle lacks /$f: run pulumi up from a checkout of the same Haven version"
done

# Installs one file if its content or mode differ; true when it did.
put() {
  src="$stage/new/$1"
  dst="/$1"
  if [ -f "$dst" ] && cmp -s "$src" "$dst" && [ "$(stat -c %a "$src")" = "$(stat -c %a "$dst")" ]; then return 1; fi
  mkdir -p "$(dirname "$dst")"
  cp -p "$src" "$dst.haven-new"
  chown root:root "$dst.haven-new"
  mv -f "$dst.haven-new" "$dst"
  say "installed $dst"
}

# Operator access first, so a failed bootstrap can be looked at over SSH.
if [ -f "$stage/new/root/.ssh/authorized_keys" ]; then
  mkdir -p /root/.ssh && chmod 0700 /root/.ssh
  put root/.ssh/authorized_keys || true
fi

# The bootstrap must have finished (a new server is still installing when \`pulumi up\` first gets here).
if command -v cloud-init >/dev/null 2>&1; then
  rc=0
  cloud-init status --wait >/dev/null || rc=$?
  # 2: finished with warnings (deprecated keys), which is fine.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    tail -n 25 /var/log/cloud-init-output.log >&2 || true
    fail "the server's bootstrap failed (its log's last lines are above): fix the cause, run ${SETUP_SCRIPT} on the server, then pulumi up again"
  fi
fi
test -x "$HAVEN_BIN" || fail "Haven is not installed ($HAVEN_BIN is missing): see /var/log/cloud-init-output.log on the server"

# The master key encrypts everything on the volume: never swap it under existing data.
mk="$CRED/master-key"
if [ -f "/$mk" ] && [ -e "$DATA_DIR/directory.sqlite" ] && ! cmp -s "$stage/new/$mk" "/$mk"; then
  fail "haven:masterKey is not the key this node's data is encrypted with; nothing was changed. Set the old key back (pulumi config set --secret haven:masterKey <old key>) and run pulumi up again"
fi

# The node (user haven) reads its config file; everything secret below stays root-only.
mkdir -p /etc/haven
chmod 0755 /etc/haven
restart=0
while IFS= read -r f; do
  [ "$f" = root/.ssh/authorized_keys ] && continue
  if put "$f"; then restart=1; fi
done <"$stage/list"
# Credentials no longer sent: a removed domain's DKIM key. The node keeps the domain and its mail.
mkdir -p "/$CRED"
chmod 0700 "/$CRED"
for f in "/$CRED"/*; do
  [ -e "$f" ] || continue
  if ! grep -qxF "\${f#/}" "$stage/list"; then
    rm -f "$f"
    say "removed $f"
    restart=1
  fi
done

if [ ! -d /run/systemd/system ]; then
  say "systemd is not running here: haven.service starts at the next boot"
elif [ "$restart" = 1 ]; then
  systemctl daemon-reload
  systemctl restart haven.service
  # A node that refuses its new config exits at once: give it ten seconds to show that.
  i=0
  while [ "$i" -lt 10 ]; do
    sleep 1
    i=$((i + 1))
    if [ "$(systemctl show -p NRestarts --value haven.service)" != 0 ] || ! systemctl is-active --quiet haven.service; then
      journalctl -u haven.service -n 25 --no-pager >&2 || true
      fail "haven.service does not stay up with the new configuration (its log is above): fix the setting and run pulumi up again"
    fi
  done
  say "restarted haven.service with the new configuration"
else
  systemctl start haven.service
  say "configuration unchanged"
fi
`;
}
