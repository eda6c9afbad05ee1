/**
 * @module node/cli
 * The `haven` command line: `runCli(argv, io)` runs one command and returns
 * its exit code. node/cli.ts calls it with the process's streams; tests call
 * it in-process with `memoryIo()`.
 */
import { COMMANDS } from './commands/index.js';
import { dispatch } from './dispatch.js';
import type { CliIo, Command } from './types.js';

export { memoryIo, processIo, type MemoryIo } from './io.js';
export { commandHelp, usageLine, GLOBAL_OPTIONS } from './dispatch.js';
export { cliConfig, masterKeyFor, readSecret, withOperations } from './context.js';
export { CommandError, EXIT, UsageError, type Args, type CliIo, type Command, type OptionSpec } from './types.js';
export { COMMANDS } from './commands/index.js';

export function runCli(argv: readonly string[], io: CliIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  return dispatch(argv, io, commands);
}
