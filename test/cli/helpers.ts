/**
 * @module test/cli/helpers
 * Runs `haven` commands in-process against a temporary data directory, and
 * opens that directory's store the way the node would, to check what a
 * command really did.
 */
import { spawn } from 'node:child_process';
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

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'haven.js');

/**
 * The real `haven` executable (bin/haven.js) in a child process, with the
 * parent's environment minus HAVEN_* (a developer's own settings must not
 * leak in) plus `env`, and `stdin` piped in.
 */
export function runHavenBinary(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAVEN_')) env[k] = v;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(opts.stdin ?? '');
  });
}
