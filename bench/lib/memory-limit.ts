/**
 * @module bench/lib/memory-limit
 * Runs one process (the node under load) inside a memory limit with swap
 * forbidden, and reads back what the kernel counted: the limit as a small
 * server would impose it (DESIGN: a 1 GB server). Three mechanisms, the first
 * that works is taken and named in every figure:
 *
 * - `systemd-run --scope -p MemoryMax= -p MemorySwapMax=0` where systemd is
 *   PID 1 (what a Debian server has);
 * - a cgroup v2 child (memory.max, memory.swap.max = 0) under the root of
 *   the unified hierarchy, when it carries the memory controller;
 * - a cgroup v1 child of the memory controller (memory.limit_in_bytes and,
 *   where the kernel accounts swap, memory.memsw.limit_in_bytes equal to it:
 *   no room left for swap), nested under the caller's own memory cgroup so
 *   whatever supervises the caller still holds the node; at the top of the
 *   hierarchy when that cannot be written.
 *
 * The process is put in the limit before it runs a line of its own: `wrap`
 * returns a command prefix (a shell that writes its own PID to the cgroup,
 * then execs the program, so the PID is the program's; or systemd-run, which
 * also execs in place). Only that process and what it starts are inside.
 *
 * Facts from the kernel's cgroup documentation (cgroup-v1/memory.rst,
 * cgroup-v2.rst): failcnt counts the times usage met the limit and the
 * kernel reclaimed (page cache first), not kills; oom_kill (v1
 * memory.oom_control, v2 memory.events) counts processes the OOM killer
 * ended; usage includes page cache, so the peak of a busy node that reads
 * its databases sits near the limit while its RSS stays far below it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendants } from './rss.js';

export type Mechanism = 'systemd-run' | 'cgroup v2' | 'cgroup v1';

export interface MemoryReading {
  /** The cgroup's high-water mark of charged memory (anon + page cache + kernel), bytes. */
  peakBytes: number;
  /** Times usage met the limit (reclaim followed); NaN where the mechanism has no such counter. */
  failcnt: number;
  /** Processes the OOM killer ended inside the limit. */
  oomKills: number;
  /** Swap charged to the cgroup now, bytes (0 expected: it is forbidden). */
  swapBytes: number;
  /** Anonymous memory and page cache charged to the cgroup now, bytes. */
  anonBytes: number;
  cacheBytes: number;
  /** Peak RSS (VmHWM) of the limited process and its descendants, bytes. */
  processPeakBytes: number;
}

export interface MemoryLimit {
  mechanism: Mechanism;
  limitBytes: number;
  /** Where the counters are read: a cgroup directory (systemd-run's is known once the process runs). */
  where(): string;
  /** The command line that starts `argv` inside the limit. */
  wrap(argv: string[]): string[];
  /** Reads the counters; call while the process still runs (a systemd scope goes when it empties). */
  read(pid: number): MemoryReading;
  /** True when `pid` is inside the limit's cgroup now. */
  holds(pid: number): boolean;
  /** Removes the cgroup (v1, v2); the process must have exited. */
  close(): void;
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** "1G", "512M", "1073741824" (bytes; K, M and G are powers of 1024, as systemd and the kernel read them). */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new Error(`memory limit "${text}" is not a size: e.g. 1G, 512M or a number of bytes`);
  const bytes = Number(m[1]) * UNITS[m[2].toUpperCase()];
  if (bytes < 16 * 2 ** 20) throw new Error(`memory limit "${text}" is under 16M: no node starts in that`);
  return bytes;
}

export function formatSize(bytes: number): string {
  return bytes >= 2 ** 30 && bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30}G` : `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

/** `key value` lines (memory.stat, memory.events, memory.oom_control) as a map. */
export function keyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

const read = (path: string) => readFileSync(path, 'utf8');
const num = (path: string) => (existsSync(path) ? Number(read(path).trim()) : NaN);

function processPeak(pid: number): number {
  let kb = 0;
  for (const p of descendants(pid)) {
    try {
      kb += Number(/^VmHWM:\s+(\d+) kB/m.exec(read(`/proc/${p}/status`))?.[1] ?? 0);
    } catch {
      /* exited meanwhile */
    }
  }
  return kb * 1024;
}

/** The shell wrapper: it joins the cgroup by its own PID, then becomes the program (exec keeps the PID). */
function joinThenExec(procsFile: string, argv: string[]): string[] {
  return ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', procsFile, ...argv];
}

/** This process's cgroup path in the hierarchy whose /proc/self/cgroup line matches. */
function ownCgroup(match: (controllers: string, id: string) => boolean): string | null {
  for (const line of read('/proc/self/cgroup').split('\n')) {
    const [id, controllers, path] = line.split(':');
    if (path !== undefined && match(controllers, id)) return path;
  }
  return null;
}

function mountPoint(fstype: 'cgroup' | 'cgroup2', option?: string): string | null {
  for (const line of read('/proc/self/mounts').split('\n')) {
    const [, dir, type, opts] = line.split(' ');
    if (type === fstype && (!option || opts.split(',').includes(option))) return dir;
  }
  return null;
}

function makeChild(parents: string[], name: string): string {
  const errors: string[] = [];
  for (const parent of parents) {
    const dir = join(parent, name);
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      errors.push(`${dir}: ${(err as Error).message}`);
    }
  }
  throw new Error(errors.join('; '));
}

function cgroupV1(bytes: number, name: string): MemoryLimit {
  const root = mountPoint('cgroup', 'memory');
  if (!root) throw new Error('no cgroup v1 memory controller mounted');
  const own = ownCgroup((c) => c.split(',').includes('memory'));
  const dir = makeChild([...(own && own !== '/' ? [join(root, own)] : []), root], name);
  try {
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
    // memsw is memory + swap: equal to the memory limit, swap has no room. Absent when the kernel does not account swap.
    if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes));
    else writeFileSync(join(dir, 'memory.swappiness'), '0');
  } catch (err) {
    rmdirSync(dir);
    throw err;
  }
  return {
    mechanism: 'cgroup v1',
    limitBytes: num(join(dir, 'memory.limit_in_bytes')),
    where: () => dir,
    wrap: (argv) => joinThenExec(join(dir, 'cgroup.procs'), argv),
    read(pid) {
      const stat = keyValues(read(join(dir, 'memory.stat')));
      return {
        peakBytes: num(join(dir, 'memory.max_usage_in_bytes')),
        failcnt: num(join(dir, 'memory.failcnt')),
        oomKills: keyValues(read(join(dir, 'memory.oom_control'))).get('oom_kill') ?? NaN,
        swapBytes: stat.get('total_swap') ?? stat.get('swap') ?? 0,
        anonBytes: stat.get('total_rss') ?? stat.get('rss') ?? NaN,
        cacheBytes: stat.get('total_cache') ?? stat.get('cache') ?? NaN,
        processPeakBytes: processPeak(pid),
      };
    },
    holds: (pid) => read(join(dir, 'cgroup.procs')).split('\n').includes(String(pid)),
    close: () => rmdirQuietly(dir),
  };
}

function v2Reading(dir: string, pid: number): MemoryReading {
  const events = keyValues(read(join(dir, 'memory.events')));
  const stat = keyValues(read(join(dir, 'memory.stat')));
  return {
    // memory.peak came in Linux 5.19; before it only the current usage can be read.
    peakBytes: existsSync(join(dir, 'memory.peak')) ? num(join(dir, 'memory.peak')) : num(join(dir, 'memory.current')),
    // v2 has no failcnt; `max` counts the times usage met memory.max, the nearest thing.
    failcnt: events.get('max') ?? NaN,
    oomKills: events.get('oom_kill') ?? NaN,
    swapBytes: existsSync(join(dir, 'memory.swap.current')) ? num(join(dir, 'memory.swap.current')) : 0,
    anonBytes: stat.get('anon') ?? NaN,
    cacheBytes: stat.get('file') ?? NaN,
    processPeakBytes: processPeak(pid),
  };
}

function cgroupV2(bytes: number, name: string): MemoryLimit {
  const root = mountPoint('cgroup2');
  if (!root || !read(join(root, 'cgroup.controllers')).split(/\s+/).includes('memory')) throw new Error('no cgroup v2 hierarchy with the memory controller');
  // A v2 cgroup that holds processes may not hand controllers to children, but the root may: the limit goes there.
  if (!read(join(root, 'cgroup.subtree_control')).split(/\s+/).includes('memory')) writeFileSync(join(root, 'cgroup.subtree_control'), '+memory');
  const dir = makeChild([root], name);
  try {
    writeFileSync(join(dir, 'memory.max'), String(bytes));
    if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
  } catch (err) {
    rmdirSync(dir);
    throw err;
  }
  return {
    mechanism: 'cgroup v2',
    limitBytes: bytes,
    where: () => dir,
    wrap: (argv) => joinThenExec(join(dir, 'cgroup.procs'), argv),
    read: (pid) => v2Reading(dir, pid),
    holds: (pid) => read(join(dir, 'cgroup.procs')).split('\n').includes(String(pid)),
    close: () => rmdirQuietly(dir),
  };
}

function systemdRun(bytes: number, name: string): MemoryLimit {
  if (!existsSync('/run/systemd/system')) throw new Error('systemd is not PID 1');
  execFileSync('systemd-run', ['--version'], { stdio: 'ignore' });
  const root = mountPoint('cgroup2');
  if (!root) throw new Error('systemd without a unified cgroup hierarchy: its counters cannot be read here');
  const scope = `${name}.scope`;
  let dir = '';
  const locate = (pid: number) => {
    const path = read(`/proc/${pid}/cgroup`).split('\n').find((l) => l.startsWith('0::'))?.slice(3);
    if (path?.endsWith(`/${scope}`)) dir = join(root, path);
    return dir;
  };
  return {
    mechanism: 'systemd-run',
    limitBytes: bytes,
    where: () => dir || `${scope} (not started yet)`,
    // --scope runs the command in place (same PID) inside a transient scope; --collect removes it even after a failure.
    wrap: (argv) => ['systemd-run', '--scope', '--quiet', '--collect', `--unit=${name}`, '-p', `MemoryMax=${bytes}`, '-p', 'MemorySwapMax=0', '--', ...argv],
    read: (pid) => v2Reading(locate(pid) || dir, pid),
    holds: (pid) => {
      try {
        return locate(pid) !== '';
      } catch {
        return false;
      }
    },
    close: () => undefined,
  };
}

function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // A process that is still exiting keeps the cgroup busy: the kernel frees an empty
    // cgroup's directory only by rmdir, so say where it was left.
    console.error(`memory-limit: could not remove ${dir} (a process still in it?); rmdir it by hand`);
  }
}

/**
 * A memory limit of `bytes` with swap forbidden, by the first mechanism that
 * works here; throws with each mechanism's reason when none does (not root,
 * no memory controller).
 */
export function memoryLimit(bytes: number): MemoryLimit {
  const name = `haven-bench-${process.pid}-${Date.now().toString(36)}`;
  const reasons: string[] = [];
  for (const [mechanism, make] of [['systemd-run', systemdRun], ['cgroup v2', cgroupV2], ['cgroup v1', cgroupV1]] as const) {
    try {
      return make(bytes, name);
    } catch (err) {
      reasons.push(`${mechanism}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no way to limit memory here (root and a cgroup memory controller are needed):\n  ${reasons.join('\n  ')}`);
}

/** The figures the issue asks for, one line each. */
export function describeReading(limit: MemoryLimit, r: MemoryReading): string[] {
  const mb = (n: number) => (Number.isNaN(n) ? 'n/a' : `${(n / 2 ** 20).toFixed(0)} MB`);
  return [
    `memory limit ${formatSize(limit.limitBytes)}, swap forbidden, by ${limit.mechanism} (${limit.where()})`,
    // A page is charged to the cgroup that first brought it in: node's binary and libraries, already cached
    // by other processes, count in the node's RSS but not here, so the two figures can rank either way.
    `  cgroup peak usage ${mb(r.peakBytes)} (what the node's cgroup was charged: its own memory and the page cache it brought in); now ${mb(r.anonBytes)} anonymous + ${mb(r.cacheBytes)} page cache`,
    `  limit reached ${Number.isNaN(r.failcnt) ? 'n/a' : r.failcnt} times (the kernel reclaimed), OOM kills ${r.oomKills}, swap used ${mb(r.swapBytes)}`,
    `  node peak RSS ${mb(r.processPeakBytes)}`,
  ];
}
