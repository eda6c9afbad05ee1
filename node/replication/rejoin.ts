/**
 * @module node/replication/rejoin
 * An old primary coming back as a standby. Its data directory holds the
 * history it wrote as primary; the promoted node started new generations,
 * so that history has diverged from the replica's, and what the old primary
 * committed but never shipped (WAL frames past the last shipped position,
 * objects waiting in its outbox) exists nowhere else. It is never merged
 * silently: the databases and replication state move aside, whole and
 * still encrypted, into `<dataDir>/diverged-<time>/` with a report of what
 * was unshipped per database, and the standby restores fresh from the
 * replica.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { databaseFiles, mailboxDir, replicationDir } from '../store/layout.js';
import { fsyncDir } from '../util/fsync.js';
import type { Logger } from '../util/log.js';
import { continues, readDiskFacts } from './chain-state.js';
import { readHeld } from './epoch.js';
import { shippedPastTakeover, type TakeoverRecord } from './takeover.js';
import { loadSaved } from './tracker.js';

export interface DivergedDatabase {
  db: string;
  /** WAL bytes committed after the last position the replica holds (0: everything was shipped). */
  unshippedWalBytes: number;
  /** Objects cut but never uploaded (the outbox). */
  outboxObjects: number;
  /** No replication state at all: nothing of it is known to be in the replica. */
  neverShipped: boolean;
  /** The file no longer continues the shipped chain (changed by something that did not ship it): an unknown amount is unshipped. */
  changedSinceShipped: boolean;
  /** It shipped objects past what the promoted node applied before serving (an upload that landed late): in the replica, not in the new primary's data. */
  shippedPastTakeover: boolean;
}

export interface DivergenceReport {
  /** Where the old databases now lie. */
  dir: string;
  /** The epoch this directory held as primary. */
  heldEpoch: number;
  databases: DivergedDatabase[];
  /** Databases with anything unshipped: what the old primary had that the new one lacks. */
  unshipped: string[];
}

function size(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** What an old primary's data directory holds that the replica may not (read only). */
export function unshippedIn(dataDir: string, took: TakeoverRecord | null = null): DivergedDatabase[] {
  const stateDir = join(replicationDir(dataDir), 'state');
  const outboxDir = join(replicationDir(dataDir), 'outbox');
  return databaseFiles(dataDir).map((f) => {
    const saved = loadSaved(stateDir, f.name);
    const wal = size(`${f.path}-wal`);
    const box = existsSync(join(outboxDir, f.name)) ? readdirSync(join(outboxDir, f.name)).filter((n) => !n.includes('.tmp')).length : 0;
    // A WAL that restarted since the saved position (a different salt) is all unshipped; otherwise what lies past it.
    const unshippedWalBytes = saved ? Math.max(0, wal - saved.pos.offset) : wal;
    const changedSinceShipped = saved !== null && !continues(saved, readDiskFacts(f.path));
    const past = took !== null && shippedPastTakeover(saved ? { generation: saved.generation, index: saved.index } : null, took.applied[f.name]);
    return { db: f.name, unshippedWalBytes: changedSinceShipped ? wal : unshippedWalBytes, outboxObjects: box, neverShipped: saved === null, changedSinceShipped, shippedPastTakeover: past };
  });
}

/**
 * When this data directory was a primary's (it holds an epoch) and has
 * databases, moves them aside and reports; null when there is nothing to
 * set aside (a fresh standby, or one that stood by before).
 */
export function setAsideDiverged(dataDir: string, log: Logger, now = Date.now(), took: TakeoverRecord | null = null): DivergenceReport | null {
  const held = readHeld(dataDir);
  const files = databaseFiles(dataDir);
  if (held === null || files.length === 0) return null;
  const databases = unshippedIn(dataDir, took);
  const dir = join(dataDir, `diverged-${new Date(now).toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(join(dir, 'mailboxes'), { recursive: true, mode: 0o700 });
  for (const f of files) {
    const rel = f.path.slice(dataDir.length).replace(/^[/\\]+/, '');
    for (const ext of ['', '-wal', '-shm']) if (existsSync(f.path + ext)) renameSync(f.path + ext, join(dir, rel + ext));
  }
  if (existsSync(replicationDir(dataDir))) renameSync(replicationDir(dataDir), join(dir, '.replication'));
  mkdirSync(mailboxDir(dataDir), { recursive: true, mode: 0o700 });
  const unshipped = databases.filter((d) => d.unshippedWalBytes > 0 || d.outboxObjects > 0 || d.neverShipped || d.changedSinceShipped || d.shippedPastTakeover).map((d) => d.db);
  const report: DivergenceReport = { dir, heldEpoch: held, databases, unshipped };
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2), { mode: 0o600 });
  fsyncDir(join(dir, 'report.json'));
  const level = unshipped.length > 0 ? 'error' : 'warn';
  log[level](
    { dir, heldEpoch: held, databases: databases.length, unshipped },
    unshipped.length > 0
      ? 'rejoin: this node was primary and had changes the replica never got; its databases are set aside (encrypted) and NOT merged; the new primary does not have them. See report.json there'
      : 'rejoin: this node was primary; its databases are set aside and it restores fresh from the replica',
  );
  return report;
}
