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
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../config/index.js';
import { loadMasterKey, type LoadedMasterKey } from '../crypto/index.js';
import { Store } from '../store/index.js';
import { CommandError, type Args, type CliIo } from './types.js';

/** Where a local run keeps its generated master key (never used in production: masterKeyFile is set there). */
export const LOCAL_MASTER_KEY_FILE = 'master.key';
export const DIRECTORY_FILE = 'directory.sqlite';

export function cliConfig(args: Pick<Args, 'configFile'>, io: CliIo): Config {
  // Through argv so errors name the flag the user typed ("given by --config").
  return loadConfig({ env: io.env, argv: args.configFile !== undefined ? ['--config', args.configFile] : [], cwd: io.cwd });
}

export function hasDirectory(config: Config): boolean {
  return existsSync(join(config.dataDir, DIRECTORY_FILE));
}

/**
 * Loads the master key from the config. `allowGenerate` lets a first local
 * run make one in the data directory; it is ignored once a directory exists.
 */
export function masterKeyFor(config: Config, opts: { allowGenerate: boolean }): LoadedMasterKey {
  return loadMasterKey({
    value: config.masterKey || undefined,
    file: config.masterKeyFile || undefined,
    localFile: join(config.dataDir, LOCAL_MASTER_KEY_FILE),
    allowGenerate: opts.allowGenerate && !hasDirectory(config),
  });
}

/**
 * Runs `fn` with the store open. `create` allows a fresh data directory to
 * be initialised (domain add on a new machine); other commands refuse an
 * empty one with advice, so a typo in dataDir does not silently start over.
 */
export async function withStore<T>(args: Args, io: CliIo, fn: (store: Store, config: Config) => Promise<T> | T, opts: { create?: boolean } = {}): Promise<T> {
  const config = cliConfig(args, io);
  if (!opts.create && !hasDirectory(config)) {
    throw new CommandError(`no Haven data in ${config.dataDir}: run \`haven start\` once (or \`haven domain add <domain>\`), or point --config / HAVEN_DATA_DIR at the data directory`);
  }
  const mk = masterKeyFor(config, { allowGenerate: opts.create ?? false });
  if (mk.origin === 'generated' && mk.warning) io.err(`haven: warning: ${mk.warning}`);
  const store = Store.open({ dataDir: config.dataDir, masterKey: mk.key, keyMode: config.keyMode });
  try {
    return await fn(store, config);
  } finally {
    store.close();
  }
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
    // One secret per invocation: the first line, without its line ending.
    const text = await io.readStdin();
    return text.split(/\r?\n/)[0];
  }
  if (!io.interactive) throw new CommandError(`no ${o.prompt.toLowerCase()}: give --${o.flag} <value> or --${o.flag}-stdin (standard input is not a terminal, so there is no prompt)`, 2);
  const first = await io.prompt(`${o.prompt}: `, { hidden: true });
  if (o.confirm) {
    const again = await io.prompt(`${o.prompt} again: `, { hidden: true });
    if (again !== first) throw new CommandError('the two entries differ; run the command again');
  }
  return first;
}
