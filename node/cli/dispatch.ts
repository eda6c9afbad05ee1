/**
 * @module node/cli/dispatch
 * Turns argv into one command call: finds the longest command name the
 * words start with, parses that command's own options and parameters
 * strictly, prints help for `haven help [cmd]`, `--help` and bare groups,
 * and turns every failure into one line on stderr and an exit code. This is
 * the CLI's one catch.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/index.js';
import { MasterKeyError } from '../crypto/index.js';
import { StoreError } from '../store/index.js';
import { CommandError, EXIT, UsageError, type Args, type CliIo, type Command, type OptionSpec } from './types.js';

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', value: 'path', help: 'Config file (YAML or JSON); default: HAVEN_CONFIG, else embedded defaults. HAVEN_* variables override it.' },
  help: { type: 'boolean', short: 'h', help: 'Show this help.' },
};

export async function dispatch(rawArgv: readonly string[], io: CliIo, commands: readonly Command[]): Promise<number> {
  let cmd: Command | undefined;
  try {
    const argv = hoistConfig(rawArgv);
    const words = leadingWords(argv);
    const wantsHelp = argv.includes('--help') || argv.includes('-h');
    if (argv[0] === '--version' || argv[0] === 'version') {
      io.out(`haven ${version()}`);
      return EXIT.ok;
    }
    if (words.length === 0) {
      if (argv.length > 0 && !wantsHelp) throw new UsageError(`"${argv[0]}" is not a command; run \`haven help\` for the list of commands`);
      return help([], io, commands);
    }
    if (words[0] === 'help') return help(words.slice(1), io, commands);
    const found = findCommand(words, commands);
    if (!found) {
      const group = commands.filter((c) => c.name.split(' ')[0] === words[0]);
      if (group.length > 0 && words.length === 1) {
        if (wantsHelp) return help(words, io, commands);
        throw new UsageError(`"haven ${words[0]}" needs a subcommand: ${group.map((c) => c.name).join(', ')}`);
      }
      if (group.length > 0) throw new UsageError(`unknown command "haven ${words[0]} ${words[1]}"; try one of: ${group.map((c) => c.name).join(', ')}`);
      throw new UsageError(`unknown command "${words[0]}"; run \`haven help\` for the list of commands`);
    }
    cmd = found;
    const rest = dropName(argv, cmd.name);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(commandHelp(cmd));
      return EXIT.ok;
    }
    const args = parse(cmd, rest);
    const code = await cmd.run(args, io);
    return code ?? EXIT.ok;
  } catch (err) {
    return report(err, io, cmd);
  }
}

/** The package version, from package.json beside the source (node/cli/) or the build (dist/node/cli/). */
function version(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'haven' && pkg.version) return pkg.version;
    } catch {
      // try the other layout
    }
  }
  return 'unknown';
}

/** `haven --config f account list` reads as `haven account list --config f`. */
function hoistConfig(argv: readonly string[]): readonly string[] {
  if (argv[0]?.startsWith('--config=')) return [...argv.slice(1), argv[0]];
  if (argv[0] === '--config' && argv.length > 1) return [...argv.slice(2), argv[0], argv[1]];
  return argv;
}

/** The words before the first option: the candidate command name. */
function leadingWords(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    out.push(a);
  }
  return out;
}

function findCommand(words: readonly string[], commands: readonly Command[]): Command | undefined {
  for (let n = words.length; n > 0; n--) {
    const name = words.slice(0, n).join(' ');
    const c = commands.find((x) => x.name === name);
    if (c) return c;
  }
  return undefined;
}

function dropName(argv: readonly string[], name: string): string[] {
  return argv.slice(name.split(' ').length);
}

function paramSpec(p: string): { name: string; optional: boolean; variadic: boolean } {
  const optional = p.endsWith('?');
  const bare = optional ? p.slice(0, -1) : p;
  const variadic = bare.endsWith('...');
  return { name: variadic ? bare.slice(0, -3) : bare, optional, variadic };
}

function parse(cmd: Command, argv: readonly string[]): Args {
  const options = { ...GLOBAL_OPTIONS, ...cmd.options };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(Object.entries(options).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${cleanParseError((err as Error).message)} for \`haven ${cmd.name}\`; see \`haven ${cmd.name} --help\``);
  }
  const positionals = [...parsed.positionals];
  const params: Record<string, string | undefined> = {};
  let rest: string[] = [];
  const specs = (cmd.params ?? []).map(paramSpec);
  for (const spec of specs) {
    if (spec.variadic) {
      rest = positionals.splice(0);
      if (rest.length === 0 && !spec.optional) throw new UsageError(`\`haven ${cmd.name}\` needs at least one <${spec.name}>; usage: ${usageLine(cmd)}`);
      continue;
    }
    const v = positionals.shift();
    if (v === undefined && !spec.optional) throw new UsageError(`\`haven ${cmd.name}\` needs <${spec.name}>; usage: ${usageLine(cmd)}`);
    params[spec.name] = v;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" for \`haven ${cmd.name}\`; usage: ${usageLine(cmd)}`);
  const flags = parsed.values as Args['flags'];
  return { params, rest, flags, configFile: typeof flags.config === 'string' ? flags.config : undefined };
}

/** Node's parseArgs messages carry advice for its own API ("To specify a positional…"); keep the first sentence. */
function cleanParseError(msg: string): string {
  const first = msg.split(/\.\s/)[0].replace(/\.$/, '');
  return first.replace(/^Unknown option/, 'unknown option').replace(/^Option/, 'option');
}

export function usageLine(cmd: Command): string {
  const params = (cmd.params ?? []).map((p) => {
    const s = paramSpec(p);
    const core = `<${s.name}>${s.variadic ? '...' : ''}`;
    return s.optional ? `[${core}]` : core;
  });
  const opts = Object.entries(cmd.options ?? {}).map(([k, o]) => `[--${k}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}]`);
  return ['haven', cmd.name, ...params, ...opts].join(' ');
}

export function commandHelp(cmd: Command): string {
  const lines = [`usage: ${usageLine(cmd)}`, '', cmd.summary];
  if (cmd.details) lines.push('', cmd.details);
  const all = { ...cmd.options, ...GLOBAL_OPTIONS };
  lines.push('', 'options:');
  for (const [k, o] of Object.entries(all)) {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${k}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;
    lines.push(`  ${flag.padEnd(30)} ${o.help}`);
  }
  return lines.join('\n');
}

function help(words: readonly string[], io: CliIo, commands: readonly Command[]): number {
  if (words.length > 0) {
    const cmd = findCommand(words, commands);
    if (cmd && cmd.name === words.join(' ')) {
      io.out(commandHelp(cmd));
      return EXIT.ok;
    }
    const group = commands.filter((c) => c.name.startsWith(words.join(' ') + ' ') || c.name === words.join(' '));
    if (group.length === 0) throw new UsageError(`no command "${words.join(' ')}"; run \`haven help\` for the list`);
    io.out(listing(group));
    return EXIT.ok;
  }
  io.out('usage: haven <command> [options]   (haven <command> --help for its options)');
  io.out('');
  io.out(listing(commands));
  io.out('');
  io.out('Every command reads the config from --config <path> or HAVEN_CONFIG, then HAVEN_* variables.');
  return EXIT.ok;
}

function listing(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return commands.map((c) => `  ${c.name.padEnd(width)} ${c.summary}`).join('\n');
}

/**
 * Errors from other modules that already say what to do, matched by name so
 * the dispatcher need not load those modules (the node's listeners, TLS,
 * replication) for every command.
 */
const EXPECTED = new Set([
  'ListenError',
  'DataDirBusyError',
  'CertificateError',
  'ReplicaConfigError',
  'ReplicaCorruptError',
  'RestoreRefusedError',
  'RestoreVerifyError',
  'NothingToRestoreError',
  'StandbyConfigError',
  'StandbyHoldsEpochError',
]);

/** The one catch: every error becomes one line (ConfigError: one per problem) and an exit code. */
function report(err: unknown, io: CliIo, cmd: Command | undefined): number {
  if (err instanceof UsageError) {
    io.err(`haven: ${err.message}`);
    return EXIT.usage;
  }
  if (err instanceof ConfigError) {
    for (const p of err.problems) io.err(`haven: config: ${p.message}`);
    return EXIT.config;
  }
  if (err instanceof CommandError) {
    io.err(`haven: ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof StoreError || err instanceof MasterKeyError || (err instanceof Error && EXPECTED.has(err.name))) {
    io.err(`haven: ${err.message}`);
    return EXIT.failed;
  }
  const e = err as Error;
  const where = cmd ? ` in \`haven ${cmd.name}\`` : '';
  io.err(`haven: unexpected error${where}: ${e?.message ?? String(err)} (this is a bug; run with DEBUG=haven for the stack and report it)`);
  if (io.env.DEBUG?.includes('haven')) io.err(e?.stack ?? String(err));
  return EXIT.software;
}
