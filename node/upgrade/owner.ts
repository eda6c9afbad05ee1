/**
 * @module node/upgrade/owner
 * Who the data belongs to. The node runs as its own user (haven); operators
 * run `haven` commands as root (sudo, a systemd timer). A file root writes
 * into the data directory — a restored database, replication state, a WAL
 * that SQLite creates — would be unreadable by the node afterwards. So
 * commands that touch the data act as the data directory's owner: the CLI
 * drops to that user for the whole command, and `haven upgrade` (which
 * stays root for systemctl) runs the new release as that user and gives
 * every file it puts back to that user.
 */
import { chownSync, existsSync, statSync } from 'node:fs';

export interface Owner {
  uid: number;
  gid: number;
}

/** The data directory's owner when we are root and it is someone else; null otherwise (nothing to do). */
export function dataOwner(dataDir: string): Owner | null {
  if (process.getuid?.() !== 0 || !existsSync(dataDir)) return null;
  const s = statSync(dataDir);
  return s.uid === 0 ? null : { uid: s.uid, gid: s.gid };
}

/** Drops this process to the data directory's owner (when root and it is someone else). */
export function actAsDataOwner(dataDir: string): Owner | null {
  const o = dataOwner(dataDir);
  if (o) {
    process.setgid!(o.gid);
    process.setuid!(o.uid);
  }
  return o;
}

export function chownTo(path: string, o: Owner | null): void {
  if (o) chownSync(path, o.uid, o.gid);
}
