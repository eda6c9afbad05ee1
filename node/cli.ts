/**
 * @module node/cli
 * The `haven` executable's entry (`tsx node/cli.ts …`, bin/haven.js, `npm
 * start`): runs one command with the process's own streams and exits with
 * its code. Everything else lives in node/cli/.
 */
import { processIo, runCli } from './cli/index.js';

const code = await runCli(process.argv.slice(2), processIo());
process.exitCode = code;
// A long-running command (start) has closed its listeners by now; if a stray
// handle still holds the loop, do not hang the service manager for it.
setTimeout(() => process.exit(code), 5_000).unref();
