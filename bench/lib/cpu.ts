/**
 * @module bench/lib/cpu
 * CPU time of a process tree from /proc (Linux): user + system of each live
 * process, plus what each has collected from children it reaped (Dovecot's
 * master reaps an imap process per connection). On a shared machine the
 * commands per second follow whatever else runs; CPU time per command does
 * much less, so the benches print both.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { descendants } from './rss.js';

let ticks = 0;
function clockTicks(): number {
  if (!ticks) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU seconds used so far by `pid`, its descendants and the children they reaped. */
export function cpuSeconds(pid: number): number {
  let t = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      // Fields after the command name: state is [0], utime [11], stime [12], cutime [13], cstime [14].
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      t += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      /* exited meanwhile */
    }
  }
  return t / clockTicks();
}
