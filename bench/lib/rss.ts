/**
 * @module bench/lib/rss
 * Memory of a process tree from /proc (Linux): peak RSS (VmHWM) per process
 * and current PSS (proportional set size: shared pages divided among the
 * processes sharing them, so fifty Dovecot processes mapping the same
 * libraries and index files are not counted fifty times), summed over a
 * process and its descendants; and a reset of the peak (clear_refs 5) so a
 * phase can be measured alone.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      /* exited meanwhile */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, p] of parent) if (p === out[i]) out.push(c);
  return out;
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of peak RSS in MB over the tree (each process's own peak; they need not coincide). */
export function peakRssMb(pid: number): number {
  return descendants(pid).reduce((n, p) => n + statusKb(p, 'VmHWM'), 0) / 1024;
}

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
    return m ? Number(m[1]) : statusKb(pid, 'VmRSS');
  } catch {
    return statusKb(pid, 'VmRSS');
  }
}

/** Current memory of the tree in MB: PSS summed (RSS where smaps_rollup is missing). */
export function rssMb(pid: number): number {
  return descendants(pid).reduce((n, p) => n + pssKb(p), 0) / 1024;
}

/** Current RSS of the tree in MB (VmRSS summed: shared pages counted per process). */
export function currentRssMb(pid: number): number {
  return descendants(pid).reduce((n, p) => n + statusKb(p, 'VmRSS'), 0) / 1024;
}

/** Resets the peak of every process in the tree to its current RSS; false when not permitted. */
export function resetPeak(pid: number): boolean {
  let ok = true;
  for (const p of descendants(pid)) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      ok = false;
    }
  }
  return ok;
}
