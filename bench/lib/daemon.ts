/**
 * @module bench/lib/daemon
 * What the benchmarks need to run a throwaway peer daemon (Dovecot, Postfix,
 * Radicale) beside Haven: a free loopback port, a system user's ids, and
 * waiting until the daemon greets on its port or dies.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';

export { freePort } from '../../test/helpers/ports.js';

export function idsOf(name: string): { uid: number; gid: number } {
  return { uid: Number(spawnSync('id', ['-u', name]).stdout.toString()), gid: Number(spawnSync('id', ['-g', name]).stdout.toString()) };
}

/** Resolves once something on the port sends a greeting; rejects with `exited`, or after `tries` polls 50 ms apart. */
export async function greets(port: number, what: string, exited: Promise<never>, log: string, tries = 300): Promise<void> {
  const ready = (async () => {
    for (let n = 0; ; n++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('data', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      if (n > tries) throw new Error(`${what} did not start; see ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await Promise.race([exited, ready]);
}
