/**
 * @module bench/lib/node-child
 * Haven's side of a bench in its own process (bench/<name>-node.ts), as the
 * peer servers run in theirs: client and server do not share an event loop,
 * and the server's RSS and CPU time are its own. Started with the systemd
 * unit's environment (SERVICE_ENV), a CPU profile when HAVEN_BENCH_CPU_PROF
 * names a directory, and optionally a wrapper (a memory limit); used once
 * it prints its ready line, stopped with SIGTERM whatever happens.
 */
import { join } from 'node:path';
import { SERVICE_ENV } from '../../infra/cloud-init.js';
import { runChild } from '../../test/helpers/child.js';

export interface BenchNode {
  /** The ready line's match (ports in its groups). */
  ready: RegExpExecArray;
  pid: number;
}

export async function withBenchNode<T>(script: string, args: string[], ready: RegExp, use: (node: BenchNode) => Promise<T>, opts: { wrap?: (argv: string[]) => string[] } = {}): Promise<T> {
  const prof = process.env.HAVEN_BENCH_CPU_PROF;
  const child = runChild(join(import.meta.dirname, '..', script), args, {
    nodeArgs: prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [],
    env: { ...process.env, ...SERVICE_ENV },
    wrap: opts.wrap,
    stderr: 'inherit',
  });
  try {
    const line = await child.waitFor((l) => ready.test(l) || l.startsWith('__exit__'));
    const m = ready.exec(line);
    if (!m) throw new Error(`${script} exited before it was ready (${line})`);
    return await use({ ready: m, pid: child.proc.pid! });
  } finally {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGTERM');
    await child.exited;
  }
}
