/**
 * @module node/replication/status
 * What replication reports, computed from the per-database trackers: the
 * node's figures (lag, what waits, health, databases missing from the
 * replica) for /health, the admin API and `haven replicate status`, and one
 * line per database.
 */
import { existsSync } from 'node:fs';
import { headOf } from './chain-state.js';
import { fileSize, type Tracker } from './tracker.js';
import type { UploadPump } from './upload-pump.js';

export interface ReplicationStatus {
  target: string;
  /** now − oldest commit not yet in the replica (0 when caught up). */
  lagMs: number;
  oldestUnshippedAt: number | null;
  databases: number;
  open: number;
  /** Objects waiting for upload (in memory or in the outbox). */
  pendingObjects: number;
  /** Unshipped bytes: WAL not yet cut plus objects waiting. */
  pendingBytes: number;
  outboxObjects: number;
  walAlarm: boolean;
  healthy: boolean;
  lastError: string | null;
  lastErrorAt: number | null;
  lastUploadAt: number | null;
  uploads: number;
  uploadedBytes: number;
  generationsStarted: number;
  /**
   * Databases of the data directory of which the replica holds nothing and
   * nothing is on its way (a first snapshot waiting counts as lag, not as
   * missing): a restore would lose them.
   */
  missing: string[];
}

/** One database's place in the replica, for `haven replicate status`. */
export interface DatabaseStatus {
  db: string;
  generation: string | null;
  /** Index of the last object in the replica (this run), or the last durable one from saved state. */
  shippedIndex: number | null;
  lastShippedAt: number | null;
  pendingObjects: number;
  pendingBytes: number;
  open: boolean;
  lagMs: number;
}

/** A removed account's database is gone from the data directory, and from the figures once nothing of it waits. */
function listed(t: Tracker): boolean {
  return !!t.db || t.q.length > 0 || existsSync(t.path);
}

function unshippedWal(t: Tracker): number {
  return t.db?.open ? Math.max(0, fileSize(t.walPath) - t.pos.offset) : 0;
}

export function databaseStatuses(trackers: Iterable<Tracker>, now = Date.now()): DatabaseStatus[] {
  const out: DatabaseStatus[] = [];
  for (const t of trackers) {
    if (!listed(t)) continue;
    let pendingBytes = unshippedWal(t);
    let oldest = t.commits[0]?.at ?? null;
    const head = headOf(t.chain);
    for (const p of t.q) {
      pendingBytes += p.size;
      if (p.oldestAt !== null) oldest = Math.min(oldest ?? Infinity, p.oldestAt);
    }
    out.push({
      db: t.name,
      generation: t.shipped?.generation ?? (head?.generation || null),
      shippedIndex: t.shipped?.index ?? (head && head.index >= 0 && t.q.length === 0 ? head.index : null),
      lastShippedAt: t.shipped?.at ?? null,
      pendingObjects: t.q.length,
      pendingBytes,
      open: !!t.db?.open,
      lagMs: oldest === null ? 0 : Math.max(0, now - oldest),
    });
  }
  return out.sort((a, b) => (a.db < b.db ? -1 : 1));
}

export function replicationStatus(
  trackers: Iterable<Tracker>,
  o: { target: string; pump: UploadPump; walAlarmBytes: number; generationsStarted: number },
  now = Date.now(),
): ReplicationStatus {
  let oldest: number | null = null;
  let pendingObjects = 0;
  let pendingBytes = 0;
  let outboxObjects = 0;
  let open = 0;
  let databases = 0;
  let alarm = false;
  const missing: string[] = [];
  for (const t of trackers) {
    if (!listed(t)) continue;
    databases++;
    if (t.db?.open) open++;
    let mine = unshippedWal(t);
    if (t.commits.length > 0) oldest = Math.min(oldest ?? Infinity, t.commits[0].at);
    for (const p of t.q) {
      pendingObjects++;
      mine += p.size;
      if (p.outbox) outboxObjects++;
      if (p.oldestAt !== null) oldest = Math.min(oldest ?? Infinity, p.oldestAt);
    }
    pendingBytes += mine;
    if (mine > o.walAlarmBytes) alarm = true;
    // Nothing of it in the replica and nothing on its way: a first snapshot waiting is lag, not missing.
    if (!t.hadChain && t.shipped === null && t.q.length === 0 && !t.running && existsSync(t.path)) missing.push(t.name);
  }
  const p = o.pump;
  return {
    target: o.target,
    lagMs: oldest === null ? 0 : Math.max(0, now - oldest),
    oldestUnshippedAt: oldest,
    databases,
    open,
    pendingObjects,
    pendingBytes,
    outboxObjects,
    walAlarm: alarm,
    healthy: !p.failing && !alarm && missing.length === 0,
    lastError: p.lastError,
    lastErrorAt: p.lastErrorAt,
    lastUploadAt: p.lastUploadAt,
    uploads: p.uploads,
    uploadedBytes: p.uploadedBytes,
    generationsStarted: o.generationsStarted,
    missing: missing.sort(),
  };
}
