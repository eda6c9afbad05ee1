/**
 * @module node/cli/context
 * What most commands need before they act: the config (file from --config or
 * HAVEN_CONFIG, then HAVEN_* variables) and the node's operations: the
 * running node's over its control socket, or this process's own, holding
 * the data directory's lock, when no node runs.
 *
 * A generated master key is allowed only while the data directory holds no
 * directory database yet (a fresh local run): an existing directory must be
 * opened with the key it was made with, never a new one.
 */
import { existsSync } from 'node:fs';
import { nodeOperations } from '../admin/control.js';
import { localOperations, type Operations } from '../admin/operations.js';
import { loadConfig, parseSize, type Config } from '../config/index.js';
import { hasDirectory, masterKeyFor } from '../master-key.js';
import { Store } from '../store/index.js';
import { controlSocketPath } from '../store/layout.js';
import { dataDirHolder, lockDataDir } from '../util/data-dir-lock.js';
import { silentLogger } from '../util/log.js';
import { CommandError, UsageError, type Args, type CliIo, type OptionSpec } from './types.js';

export { DIRECTORY_FILE, hasDirectory, LOCAL_MASTER_KEY_FILE, masterKeyFor } from '../master-key.js';

export function cliConfig(args: Pick<Args, 'configFile'>, io: CliIo): Config {
  // Through argv so errors name the flag the user typed ("given by --config").
  return loadConfig({ env: io.env, argv: args.configFile !== undefined ? ['--config', args.configFile] : [], cwd: io.cwd });
}

/**
 * Runs `fn` with the node's operations (node/admin/operations). While a node
 * holds the data directory they are the running node's, reached over its
 * control socket: it is the only process that writes its databases. With no
 * node running this process becomes the one writer: it takes the data
 * directory's lock, opens the store and, when a replica is configured,
 * replicates what it writes before it reports success, as the node would.
 *
 * `create` allows a fresh data directory to be initialised (domain add on a
 * new machine); otherwise an empty one is refused with advice, so a typo in
 * dataDir does not silently start over.
 */
export async function withOperations<T>(
  args: Args,
  io: CliIo,
  fn: (ops: Operations, config: Config) => Promise<T> | T,
  opts: { create?: boolean; readOnly?: boolean } = {},
): Promise<T> {
  const config = cliConfig(args, io);
  if (await nodeAnswers(config.dataDir)) return fn(nodeOperations(config.dataDir), config);
  if (!opts.create && !hasDirectory(config)) {
    throw new CommandError(`no Haven data in ${config.dataDir}: run \`haven start\` once (or \`haven domain add <domain>\`), or point --config / HAVEN_DATA_DIR at the data directory`);
  }
  const mk = masterKeyFor(config, { allowGenerate: opts.create ?? false });
  if (mk.origin === 'generated' && mk.warning) io.err(`haven: warning: ${mk.warning}`);
  // A node starting meanwhile finds the lock taken and says so; the CLI holds it only for this command.
  const lock = lockDataDir(config.dataDir);
  try {
    if (!opts.readOnly && config.role === 'standby') {
      throw new CommandError(`${config.dataDir} belongs to a standby (role: standby): it takes no changes; make them on the primary, or \`haven promote\` this node first`);
    }
    // The fence, as a node has it: a data directory whose primary role was taken over takes no change
    // (the operations get WritesRefusedError) and writes nothing into the replica.
    const replication = !opts.readOnly && config.replicaUrl ? await import('../replication/index.js') : null;
    const fence = replication ? await replication.startFence(config, silentLogger, false) : null;
    // Before the store opens, so the replicator sees every database this process opens or creates.
    const rep = replication ? replication.replicate({ url: config.replicaUrl, dataDir: config.dataDir, log: silentLogger, retentionCheckMs: 0, guard: fence?.guard }) : null;
    try {
      const store = Store.open({ dataDir: config.dataDir, masterKey: mk.key, keyMode: config.keyMode });
      try {
        const { Queue } = await import('../store/queue.js');
        const queue = new Queue(store.directory.path, store.directory.db);
        const ops = localOperations({ store, log: silentLogger, replicated: rep ? (ms) => rep.flush(ms) : undefined, queueDepth: () => queue.depth() });
        return await fn(ops, config);
      } finally {
        store.close();
      }
    } finally {
      // The closes above checkpoint; what they leave unshipped waits in the outbox for the node's next start.
      await rep?.stop(15_000);
      fence?.close();
    }
  } finally {
    lock.release();
  }
}

/**
 * Whether a node runs on `dataDir` and answers on its control socket. A node
 * that holds the lock but has not opened its socket yet (restoring, opening
 * its store) is waited for; one that holds the lock and never answers is an
 * error, never a reason to write its files from here.
 */
async function nodeAnswers(dataDir: string): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pid = dataDirHolder(dataDir);
    if (pid === null) return false;
    if (existsSync(controlSocketPath(dataDir))) return true;
    if (Date.now() > deadline) {
      throw new CommandError(`a Haven node (pid ${pid}) holds ${dataDir} but does not answer on ${controlSocketPath(dataDir)}; check its log, or stop it and run the command again`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Warns when a change is saved but the replica does not have it yet (it ships once the replica answers). */
export function warnUnreplicated(io: CliIo, r: { replicated: boolean | null }): void {
  if (r.replicated === false) io.err('haven: warning: the change is saved, but the replica does not have it yet (it ships once the replica answers); check `haven replicate status`');
}

const stdinLines = new WeakMap<CliIo, Promise<string[]>>();

/**
 * The next line of standard input. Several `--*-stdin` flags in one command
 * read successive lines, in the order the command asks (documented per command).
 */
async function stdinLine(io: CliIo): Promise<string | undefined> {
  let lines = stdinLines.get(io);
  if (!lines) {
    lines = io.readStdin().then((t) => t.split(/\r?\n/));
    stdinLines.set(io, lines);
  }
  return (await lines).shift();
}

/**
 * A secret from --<flag>, --<flag>-stdin or a hidden prompt, in that order.
 * Scripts never hit the prompt: with no flag and no terminal it is an error.
 */
export async function readSecret(
  args: Args,
  io: CliIo,
  o: { flag: string; prompt: string; confirm?: boolean },
): Promise<string> {
  const given = args.flags[o.flag];
  const fromStdin = args.flags[`${o.flag}-stdin`] === true;
  if (typeof given === 'string' && fromStdin) throw new CommandError(`give --${o.flag} or --${o.flag}-stdin, not both`, 2);
  if (typeof given === 'string') return given;
  if (fromStdin) {
    const line = await stdinLine(io);
    if (line === undefined) throw new CommandError(`--${o.flag}-stdin: standard input ended before a line with the ${o.prompt.toLowerCase()}`, 2);
    return line;
  }
  if (!io.interactive) throw new CommandError(`no ${o.prompt.toLowerCase()}: give --${o.flag} <value> or --${o.flag}-stdin (standard input is not a terminal, so there is no prompt)`, 2);
  const first = await io.prompt(`${o.prompt}: `, { hidden: true });
  if (o.confirm) {
    const again = await io.prompt(`${o.prompt} again: `, { hidden: true });
    if (again !== first) throw new CommandError('the two entries differ; run the command again');
  }
  return first;
}

/** The pair of options `readSecret` reads: --<flag> <value> and --<flag>-stdin. */
export function secretOptions(flag: string, what: string): Record<string, OptionSpec> {
  return {
    [flag]: { type: 'string', value: flag, help: `The ${what} (visible in the process list and shell history: prefer --${flag}-stdin in scripts).` },
    [`${flag}-stdin`]: { type: 'boolean', help: `Read the ${what} from the next line of standard input.` },
  };
}

/** Sizes like 1G, 500MB or 1048576 (bytes; K/M/G are 1024-based, as config sizes are). */
export function sizeFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = parseSize(String(value));
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${flag} expects a size like 1G, 500MB or 0 for unlimited, got "${String(value)}"`);
  return n;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
