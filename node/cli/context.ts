/**
 * @module node/cli/context
 * What most commands need before they act: the config (file from --config or
 * HAVEN_CONFIG, then HAVEN_* variables) and the store it points at, opened
 * under the master key and closed again when the command is done.
 *
 * A generated master key is allowed only while the data directory holds no
 * directory database yet (a fresh local run): an existing directory must be
 * opened with the key it was made with, never a new one.
 */
import { loadConfig, parseSize, type Config } from '../config/index.js';
import { hasDirectory, masterKeyFor } from '../master-key.js';
import { Store } from '../store/index.js';
import { CommandError, UsageError, type Args, type CliIo, type OptionSpec } from './types.js';

export { DIRECTORY_FILE, hasDirectory, LOCAL_MASTER_KEY_FILE, masterKeyFor } from '../master-key.js';

export function cliConfig(args: Pick<Args, 'configFile'>, io: CliIo): Config {
  // Through argv so errors name the flag the user typed ("given by --config").
  return loadConfig({ env: io.env, argv: args.configFile !== undefined ? ['--config', args.configFile] : [], cwd: io.cwd });
}

/**
 * Runs `fn` with the store open. `create` allows a fresh data directory to
 * be initialised (domain add on a new machine); other commands refuse an
 * empty one with advice, so a typo in dataDir does not silently start over.
 */
export async function withStore<T>(
  args: Args,
  io: CliIo,
  fn: (store: Store, config: Config) => Promise<T> | T,
  opts: { create?: boolean; readOnly?: boolean } = {},
): Promise<T> {
  const config = cliConfig(args, io);
  if (!opts.create && !hasDirectory(config)) {
    throw new CommandError(`no Haven data in ${config.dataDir}: run \`haven start\` once (or \`haven domain add <domain>\`), or point --config / HAVEN_DATA_DIR at the data directory`);
  }
  const mk = masterKeyFor(config, { allowGenerate: opts.create ?? false });
  if (mk.origin === 'generated' && mk.warning) io.err(`haven: warning: ${mk.warning}`);
  const store = Store.open({ dataDir: config.dataDir, masterKey: mk.key, keyMode: config.keyMode });
  let result: T;
  try {
    result = await fn(store, config);
  } finally {
    store.close();
  }
  if (!opts.readOnly && config.replicaUrl) await shipThroughNode(config, io);
  return result;
}

/**
 * This process wrote to databases a running node replicates. Its replicator
 * cuts frames from the WAL files when told of commits in its own process, so
 * ask it (over its control socket) to flush now: the change reaches the
 * replica at once instead of with the node's next write to that database.
 * No node running: the next start's replicator finds the change itself.
 */
async function shipThroughNode(config: Config, io: CliIo): Promise<void> {
  const { askNode } = await import('../replication/index.js');
  try {
    const reply = await askNode(config.dataDir, { cmd: 'flush', timeoutMs: 15_000 }, 20_000);
    if (reply && !reply.ok) io.err(`haven: warning: the change is saved, but the running node could not replicate it yet (${reply.error}); check \`haven replicate status\``);
  } catch (err) {
    io.err(`haven: warning: the change is saved, but the running node did not confirm replicating it (${(err as Error).message}); check \`haven replicate status\``);
  }
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
