/**
 * @module test/cli/helpers
 * Runs `haven` commands in-process against a temporary data directory, and
 * opens that directory's store the way the node would, to check what a
 * command really did.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { Store } from '../../node/store/index.js';

export interface CliResult {
  code: number;
  out: string[];
  err: string[];
  asked: string[];
}

export interface CliHarness {
  dataDir: string;
  env: Record<string, string>;
  run(argv: string[], opts?: { answers?: string[]; stdin?: string; interactive?: boolean; env?: Record<string, string | undefined> }): Promise<CliResult>;
  /** Opens the store under the generated local master key (close it when done). */
  openStore(): Store;
  cleanup(): void;
}

export function cliHarness(): CliHarness {
  const root = mkdtempSync(join(tmpdir(), 'haven-cli-'));
  const dataDir = join(root, 'data');
  const env = { HAVEN_DATA_DIR: dataDir };
  return {
    dataDir,
    env,
    async run(argv, opts = {}) {
      const io = memoryIo({ answers: opts.answers, stdin: opts.stdin, interactive: opts.interactive, env: { ...env, ...opts.env }, cwd: root });
      const code = await runCli(argv, io);
      return { code, out: io.stdout, err: io.stderr, asked: io.asked };
    },
    openStore() {
      const key = Buffer.from(readFileSync(join(dataDir, 'master.key'), 'utf8').trim(), 'hex');
      return Store.open({ dataDir, masterKey: key });
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
