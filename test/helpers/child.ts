/**
 * @module test/helpers/child
 * Runs a TypeScript file in a child node process (with tsx's loader) and lets
 * a test read its stdout line by line and kill it with SIGKILL at a chosen
 * moment: `proc` is the process that runs the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The tsx loader inside node itself, not the `tsx` command: that command runs
// the script in a grandchild, which a SIGKILL of the child would leave running.
const TSX_LOADER = pathToFileURL(join(import.meta.dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export interface Child {
  proc: ChildProcess;
  lines: string[];
  /** Resolves when a line matching `pred` has been printed. */
  waitFor(pred: (line: string) => boolean): Promise<string>;
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface ChildOptions {
  /** The child's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Options for node itself, before the loader (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /**
   * Turns the node command line into the one to spawn, e.g. a wrapper that
   * puts it in a memory limit and execs it (the PID must stay node's: `proc`
   * is what a test signals).
   */
  wrap?: (argv: string[]) => string[];
  /** 'inherit' passes the child's stderr through (a bench's diagnostics) instead of keeping it for `__exit__`. */
  stderr?: 'pipe' | 'inherit';
}

export function runChild(file: string, args: string[], opts: ChildOptions = {}): Child {
  const argv = [process.execPath, ...(opts.nodeArgs ?? []), '--import', TSX_LOADER, file, ...args];
  const [cmd, ...rest] = opts.wrap ? opts.wrap(argv) : argv;
  const proc = spawn(cmd, rest, { stdio: ['ignore', 'pipe', opts.stderr ?? 'pipe'], env: opts.env ?? process.env });
  const lines: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let stderr = '';
  proc.stderr?.on('data', (d) => (stderr += d));
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of [...waiters]) if (w.pred(l)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => {
    for (const w of waiters) w.resolve(`__exit__ ${code} ${stderr}`);
    resolve(code);
  }));
  return {
    proc,
    lines,
    exited,
    waitFor(pred) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
