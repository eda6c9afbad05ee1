/**
 * bench/lib/memory-limit: a process started through `wrap` runs inside the
 * limit from its first instruction, the counters read back are the kernel's,
 * and going over the limit ends in the OOM killer, not in swap. Facts from the
 * kernel's Documentation/admin-guide/cgroup-v1/memory.rst (2.5 "Reclaim": a
 * cgroup over its limit reclaims, then invokes the OOM killer; 5.2/10
 * memory.oom_control's oom_kill; memory.memsw.* limits memory plus swap) and
 * cgroup-v2.rst (memory.max, memory.swap.max, memory.events oom_kill).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { formatSize, keyValues, memoryLimit, parseSize, type MemoryLimit } from '../../bench/lib/memory-limit.js';

/** Runs `script` under `limit`; resolves on its first stdout line (or its exit) with the process. */
function runUnder(limit: MemoryLimit, script: string) {
  const [cmd, ...args] = limit.wrap([process.execPath, '-e', script]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<NodeJS.Signals | number | null>((r) => proc.once('exit', (code, signal) => r(signal ?? code)));
  const first = new Promise<string>((resolve) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    void exited.then(() => resolve(''));
  });
  return { proc, exited, first };
}

// Touches every page of `mb` MB (a Buffer from alloc is zero-filled, so written), one MB at a time.
const ALLOC = (mb: number) => `const k = []; for (let i = 0; i < ${mb}; i++) k.push(Buffer.alloc(1 << 20, 1)); console.log('held'); setInterval(() => k.length, 1000);`;

describe('parseSize', () => {
  it('reads K, M and G as powers of 1024, as the kernel and systemd do', () => {
    expect(parseSize('1G')).toBe(2 ** 30);
    expect(parseSize('512M')).toBe(512 * 2 ** 20);
    expect(parseSize('1GiB')).toBe(2 ** 30);
    expect(parseSize('1073741824')).toBe(2 ** 30);
    expect(formatSize(2 ** 30)).toBe('1G');
  });

  it('refuses what is not a size, or too small for a node', () => {
    expect(() => parseSize('lots')).toThrow('memory limit "lots" is not a size: e.g. 1G, 512M or a number of bytes');
    expect(() => parseSize('1M')).toThrow(/under 16M/);
  });

  it('reads memory.oom_control and memory.events as key/value lines', () => {
    expect(keyValues('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n').get('oom_kill')).toBe(2);
    expect(keyValues('low 0\nhigh 0\nmax 17\noom 1\noom_kill 1\n').get('max')).toBe(17);
  });
});

describe('memoryLimit', () => {
  it('holds the wrapped process from its start and counts what it uses, without swap', async () => {
    const limit = memoryLimit(256 * 2 ** 20);
    try {
      expect(limit.limitBytes).toBe(256 * 2 ** 20);
      const run = runUnder(limit, ALLOC(64));
      expect(await run.first).toBe('held');
      expect(limit.holds(run.proc.pid!)).toBe(true);
      const r = limit.read(run.proc.pid!);
      expect(r.peakBytes).toBeGreaterThan(64 * 2 ** 20);
      expect(r.peakBytes).toBeLessThanOrEqual(256 * 2 ** 20);
      expect(r.processPeakBytes).toBeGreaterThan(64 * 2 ** 20);
      expect(r.oomKills).toBe(0);
      expect(r.swapBytes).toBe(0);
      run.proc.kill('SIGTERM');
      expect(await run.exited).toBe('SIGTERM');
    } finally {
      limit.close();
    }
    if (limit.mechanism !== 'systemd-run') expect(existsSync(limit.where())).toBe(false);
  });

  it('ends a process that goes over the limit with the OOM killer, and counts the kill', async () => {
    const limit = memoryLimit(64 * 2 ** 20);
    try {
      const run = runUnder(limit, ALLOC(256));
      // Swap is forbidden, so the only way out past 64 MB is the OOM killer's SIGKILL.
      expect(await run.first).toBe('');
      expect(await run.exited).toBe('SIGKILL');
      if (limit.mechanism !== 'systemd-run') expect(limit.read(run.proc.pid!).oomKills).toBeGreaterThanOrEqual(1);
    } finally {
      limit.close();
    }
  });
});
