/**
 * @module node/cli/commands/upgrade
 * `haven upgrade <release>`, `haven upgrade timer`, `haven migrate`. The
 * logic lives in node/upgrade; these turn flags into its options and its
 * outcome into lines and an exit code (a rollback exits 1: the upgrade did
 * not happen, even though the node is healthy again).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configuredMasterKey } from '../../replication/index.js';
import { HealthCheckError, ReleaseError, SnapshotError, UpgradeError, actAsDataOwner, migrateAll, nodeRunning, runningRelease, upgrade, upgradeUnits } from '../../upgrade/index.js';
import { cliConfig, hasDirectory } from '../context.js';
import { JSON_OPTION, CommandError, type Command } from '../types.js';

const DEFAULT_ROOT = '/opt/haven';

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UpgradeError || err instanceof ReleaseError || err instanceof SnapshotError || err instanceof HealthCheckError) throw new CommandError(err.message);
    throw err;
  }
}

export const upgradeCommands: Command[] = [
  {
    name: 'upgrade',
    summary: 'Install a newer release: verified snapshot, migrations, health check, automatic rollback.',
    details:
      'The release is anything npm installs — an `npm pack` tarball (path or URL), git+https://…/haven.git#<ref>, a registry spec — or a directory holding a prepared release. ' +
      'Releases live side by side under --root with a `current` symlink; point the node\'s unit at <root>/current/bin/haven.js. ' +
      'With --service the node is stopped for the migration and started again, and must answer /health; without it the node must already be stopped, ' +
      'and the new release is started once on trial (its own `haven start`) and must answer /health before it becomes current.',
    params: ['release'],
    options: {
      root: { type: 'string', value: 'dir', help: `Where releases are kept (default HAVEN_UPGRADE_ROOT or ${DEFAULT_ROOT}).` },
      service: { type: 'string', value: 'unit', help: 'systemd unit to stop, start and health-check (e.g. haven.service).' },
      'health-url': { type: 'string', value: 'url', help: 'Health URL of the started node (default https://127.0.0.1:<ports.https>/health).' },
      force: { type: 'boolean', help: 'Install even when the release has the version already running.' },
      'no-trial-start': { type: 'boolean', help: 'Without --service: skip the trial `haven start` and /health of the new release.' },
      json: JSON_OPTION,
    },
    async run(args, io) {
      const config = cliConfig(args, io);
      if (!hasDirectory(config)) throw new CommandError(`no Haven data in ${config.dataDir} to upgrade; check --config / HAVEN_DATA_DIR`);
      const masterKey = configuredMasterKey(config);
      if (!masterKey) throw new CommandError('no master key: set HAVEN_MASTER_KEY_FILE (or HAVEN_MASTER_KEY); the snapshot before the upgrade is checked by opening the databases with it');
      const root = resolve(io.cwd, typeof args.flags.root === 'string' ? args.flags.root : (io.env.HAVEN_UPGRADE_ROOT ?? DEFAULT_ROOT));
      const host = config.listenAddress === '0.0.0.0' || config.listenAddress === '::' ? '127.0.0.1' : config.listenAddress.includes(':') ? `[${config.listenAddress}]` : config.listenAddress;
      const source = args.params.release!;
      const r = await guard(() =>
        upgrade({
          root,
          source: /^[./~]/.test(source) ? resolve(io.cwd, source) : source,
          dataDir: config.dataDir,
          masterKey,
          env: { ...io.env },
          configFile: args.configFile ? resolve(io.cwd, args.configFile) : undefined,
          service: typeof args.flags.service === 'string' ? args.flags.service : undefined,
          healthUrl: typeof args.flags['health-url'] === 'string' ? args.flags['health-url'] : `https://${host}:${config.ports.https}/health`,
          force: args.flags.force === true,
          isRunning: () => nodeRunning(config),
          noTrialStart: args.flags['no-trial-start'] === true,
          say: (line) => io.err(line),
        }),
      );
      if (args.flags.json) io.out(JSON.stringify(r));
      else if (r.outcome === 'upgraded') io.out(`upgraded ${r.from.version} -> ${r.to.version}; snapshot kept in ${r.snapshot}`);
      else if (r.outcome === 'unchanged') io.out(`already running ${r.current.version}; nothing to do (--force installs it again)`);
      else io.out(`upgrade to ${r.attempted.version} FAILED and was rolled back: ${r.reason}; still running ${r.from.version} with the data as it was`);
      return r.outcome === 'rolled-back' ? 1 : 0;
    },
  },
  {
    name: 'upgrade timer',
    summary: 'Write systemd units that run `haven upgrade` daily (haven-upgrade.service and .timer).',
    details: 'Then: systemctl daemon-reload && systemctl enable --now haven-upgrade.timer',
    params: ['release'],
    options: {
      root: { type: 'string', value: 'dir', help: `Where releases are kept (default ${DEFAULT_ROOT}).` },
      service: { type: 'string', value: 'unit', help: 'The node\'s systemd unit (default haven.service).' },
      dir: { type: 'string', value: 'dir', help: 'Where to write the units (default /etc/systemd/system).' },
      'on-calendar': { type: 'string', value: 'spec', help: 'systemd OnCalendar schedule (default daily 03:30).' },
      'environment-file': { type: 'string', value: 'path', help: 'EnvironmentFile with the node\'s HAVEN_* settings (e.g. /etc/haven/haven.env).' },
    },
    async run(args, io) {
      const root = typeof args.flags.root === 'string' ? resolve(io.cwd, args.flags.root) : DEFAULT_ROOT;
      const units = upgradeUnits({
        source: args.params.release!,
        bin: join(root, 'current', 'bin', 'haven.js'),
        root,
        service: typeof args.flags.service === 'string' ? args.flags.service : 'haven.service',
        configFile: args.configFile ? resolve(io.cwd, args.configFile) : undefined,
        onCalendar: typeof args.flags['on-calendar'] === 'string' ? args.flags['on-calendar'] : undefined,
        environmentFile: typeof args.flags['environment-file'] === 'string' ? args.flags['environment-file'] : undefined,
      });
      const dir = typeof args.flags.dir === 'string' ? resolve(io.cwd, args.flags.dir) : '/etc/systemd/system';
      mkdirSync(dir, { recursive: true });
      for (const [name, text] of Object.entries(units)) {
        writeFileSync(join(dir, name), text, { mode: 0o644 });
        io.out(`wrote ${join(dir, name)}`);
      }
      io.out('enable it with: systemctl daemon-reload && systemctl enable --now haven-upgrade.timer');
    },
  },
  {
    name: 'migrate',
    summary: 'Migrate and integrity-check every database this node can open (the node must be stopped).',
    details: 'Zero-access mailboxes migrate at their owner\'s next login. `haven upgrade` runs this with the new release as its health check.',
    options: { json: JSON_OPTION },
    async run(args, io) {
      const config = cliConfig(args, io);
      if (!hasDirectory(config)) throw new CommandError(`no Haven data in ${config.dataDir}; check --config / HAVEN_DATA_DIR`);
      const masterKey = configuredMasterKey(config);
      if (!masterKey) throw new CommandError('no master key: set HAVEN_MASTER_KEY_FILE (or HAVEN_MASTER_KEY)');
      actAsDataOwner(config.dataDir);
      const running = await nodeRunning(config);
      if (running) throw new CommandError(`a node is running on ${config.dataDir} (${running} answers); stop it before migrating`);
      const r = await guard(() => migrateAll({ dataDir: config.dataDir, masterKey, keyMode: config.keyMode }));
      if (args.flags.json) return io.out(JSON.stringify({ ...r, version: runningRelease().version }));
      for (const d of r.databases) io.out(`${d.db}\tschema ${d.userVersion}\tintegrity ${d.integrity}`);
      io.out(`migrated ${r.databases.length} database(s)${r.deferred ? `; ${r.deferred} zero-access mailbox(es) migrate at their owners' next login` : ''}`);
    },
  },
];
