/**
 * @module node/util/data-dir-lock
 * One node per data directory. Two nodes on the same files would each
 * replicate them (forking the replica's history) and each restore into an
 * empty directory at once. The lock is `<dataDir>/node.pid`: taken with an
 * exclusive create, released on close, and taken over when the process it
 * names is gone (a SIGKILL or power loss leaves the file behind).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'node.pid';

export class DataDirBusyError extends Error {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(`a Haven node (pid ${pid}) is already running on ${dataDir}; stop it first (systemctl stop haven, or Ctrl-C in its terminal), or use another dataDir`);
    this.name = 'DataDirBusyError';
  }
}

/** Data directories locked by this process (a pid check cannot tell two nodes in one process apart). */
const held = new Set<string>();

/** Whether a process with this pid exists and looks like a Node.js process. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user, which still holds the directory.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // A recycled pid (after a reboot, in a container) usually belongs to something else.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return true; // no /proc (not Linux): trust the pid
  }
}

/** The pid of the live node holding `dataDir`, or null. */
export function dataDirHolder(dataDir: string): number | null {
  const dir = resolve(dataDir);
  if (held.has(dir)) return process.pid;
  try {
    const pid = Number(readFileSync(join(dir, LOCK_FILE), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** Takes the lock (creating the directory, 0700, when missing); throws DataDirBusyError when a live node holds it. */
export function lockDataDir(dataDir: string): { release(): void } {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE);
  if (held.has(dir)) throw new DataDirBusyError(dir, process.pid);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = dataDirHolder(dir);
      if (holder !== null) throw new DataDirBusyError(dir, holder);
      // Another process took over the stale file between our look and our retry.
      if (attempt > 0) throw new DataDirBusyError(dir, Number(readFileSync(file, 'utf8').trim()) || 0);
      rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  held.add(dir);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      held.delete(dir);
      try {
        if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
      } catch {
        // already gone
      }
    },
  };
}
