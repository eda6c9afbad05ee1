/**
 * @module node/cli/io
 * The two `CliIo`s: the process's own streams (with a hidden-input password
 * prompt on a terminal) and an in-memory one that tests script with answers
 * and standard input, and stop on demand.
 */
import type { CliIo } from './types.js';

/** The real terminal: stdout/stderr, prompts on stdin, SIGTERM/SIGINT to stop. */
export function processIo(): CliIo {
  return {
    out: (line) => void process.stdout.write(line + '\n'),
    err: (line) => void process.stderr.write(line + '\n'),
    prompt: (question, opts) => promptTerminal(question, opts?.hidden ?? false),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    interactive: process.stdin.isTTY === true,
    env: process.env,
    cwd: process.cwd(),
    // SIGHUP too: closing the terminal a local node runs in should stop it cleanly, not kill it.
    // The handlers go after the first signal, so a second Ctrl-C during a slow shutdown ends the process at once.
    waitForStop: () =>
      new Promise((resolve) => {
        const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
        const handlers = signals.map((sig) => {
          const h = () => {
            for (const [i, s] of signals.entries()) process.off(s, handlers[i]);
            resolve(sig);
          };
          process.once(sig, h);
          return h;
        });
      }),
  };
}

/**
 * Reads one line from the terminal. With `hidden`, the terminal is put in raw
 * mode and nothing typed is echoed; Ctrl-C aborts the command (exit 130), as
 * a person pressing it at a password prompt expects.
 */
async function promptTerminal(question: string, hidden: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!hidden || !stdin.isTTY) {
    process.stderr.write(question);
    const { createInterface } = await import('node:readline');
    const rl = createInterface({ input: stdin, terminal: false });
    try {
      // Standard input may end without a line (Ctrl-D, a closed pipe): that is an empty answer, not a hang.
      return await new Promise<string>((resolve) => {
        rl.once('line', resolve);
        rl.once('close', () => resolve(''));
      });
    } finally {
      rl.close();
    }
  }
  return new Promise((resolve) => {
    let value = '';
    // Echo goes off before the question shows, so nothing typed (or pasted) right after it is echoed.
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (result: string | null) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (result === null) process.exit(130);
      resolve(result);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(value);
        if (ch === '\u0003') return done(null);
        // Ctrl-D ends the answer as Enter would, so a prompt never waits forever for a line that cannot come.
        if (ch === '\u0004') return done(value);
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export interface MemoryIo extends CliIo {
  readonly stdout: string[];
  readonly stderr: string[];
  /** Questions asked, in order. */
  readonly asked: string[];
  /** Makes `waitForStop()` resolve, as SIGTERM would. */
  stop(signal?: string): void;
}

/** For tests: captured output, scripted prompt answers and stdin, a manual stop. */
export function memoryIo(opts: { answers?: string[]; stdin?: string; interactive?: boolean; env?: Record<string, string | undefined>; cwd?: string } = {}): MemoryIo {
  const answers = [...(opts.answers ?? [])];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const asked: string[] = [];
  let stopWith: (sig: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (stopWith = resolve));
  return {
    stdout,
    stderr,
    asked,
    out: (line) => void stdout.push(line),
    err: (line) => void stderr.push(line),
    prompt: async (question) => {
      asked.push(question);
      const a = answers.shift();
      if (a === undefined) throw new Error(`test io: no answer scripted for "${question}"`);
      return a;
    },
    readStdin: async () => opts.stdin ?? '',
    interactive: opts.interactive ?? answers.length > 0,
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    waitForStop: () => stopped,
    stop: (sig = 'SIGTERM') => stopWith(sig),
  };
}
