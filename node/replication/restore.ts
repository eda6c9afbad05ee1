/**
 * @module node/replication/restore
 * Restoring databases from the replica: plan (restore-plan) from one flat
 * listing, apply each database's chain (restore-apply), verify each result
 * (restore-verify), and only then move the databases into place, the
 * directory last, so a restore cut short changes nothing. Also the first
 * boot of a rebuilt server: restore into an empty data directory.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import { directoryPath, mailboxDir, replicationDir } from '../store/layout.js';
import { NothingToRestoreError, ReplicaCorruptError, RestoreRefusedError } from './errors.js';
import { compareDbNames } from './listing.js';
import { parseKey, pathForDbName } from './object.js';
import { restoreOne, withRetry, type ChainTail } from './restore-apply.js';
import { planRestore } from './restore-plan.js';
import { openTarget, type ReplicaTarget } from './target.js';
import { fsyncDir } from '../util/fsync.js';

export { planRestore } from './restore-plan.js';
export { verifyBackup, liveImage, type VerifyOptions, type VerifyEntry, type VerifyReport } from './backup-verify.js';

export interface RestoreProgress {
  phase: 'plan' | 'fetch' | 'verify' | 'done';
  db?: string;
  objectsDone: number;
  objectsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
  /** Estimated time left, from the throughput so far; null until something was fetched. */
  etaMs: number | null;
}

export interface RestoreOptions {
  /** A replica URL or an open target. */
  target: string | ReplicaTarget;
  /** Directory to restore into (a data directory layout). */
  into: string;
  /** One database: 'directory', 'spool' or an account id. Default: the whole node. */
  only?: string;
  /** Point in time; default: the latest state in the replica. */
  at?: Date;
  /** Overwrite existing databases in `into`. */
  force?: boolean;
  /** Verifies directory and spool (and managed-mode mailboxes) by opening them. */
  masterKey?: Buffer;
  /** Keys for mailboxes (account id → key), e.g. unwrapped with a recovery key. */
  mailboxKeys?: Record<string, Buffer>;
  onProgress?: (p: RestoreProgress) => void;
  log?: Logger;
  /** Objects fetched ahead of the one being applied (default 32; also bounded by bytes). */
  prefetch?: number;
  /** Databases restored at once after the directory (default 4). */
  concurrency?: number;
}

export interface RestoredDatabase {
  db: string;
  path: string;
  generation: string;
  objects: number;
  bytes: number;
  pages: number;
  pageSize: number;
  /** Time of the last commit restored (or the snapshot's time). */
  stateAt: number;
  verified: 'integrity_check' | 'structure';
  /** Where the chain ended, for a follower to carry on (absent for a point in time). */
  tail?: ChainTail;
}

export interface RestoreResult {
  databases: RestoredDatabase[];
  /** Databases in the replica that did not exist yet at `at`. */
  skipped: string[];
  bytes: number;
  ms: number;
}

/** Bytes fetched ahead per database being restored (a 1 GB server restores several at once). */
/** Plans, fetches, checks, rebuilds and verifies. Throws ReplicaCorruptError naming every broken link it found. */
export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const target = typeof opts.target === 'string' ? openTarget(opts.target) : opts.target;
  try {
    const listing = await withRetry(() => target.list());
    const { plans, skipped, problems } = planRestore(listing, opts.only, opts.at);
    if (problems.length > 0) throw new ReplicaCorruptError(problems);
    if (plans.length === 0) {
      throw new NothingToRestoreError(
        opts.only
          ? `the replica ${target.description} holds nothing for ${opts.only}${opts.at ? ` at ${opts.at.toISOString()}` : ''}; check the id with \`haven account list\` or pick a later --at`
          : `the replica ${target.description} is empty${opts.at ? ` before ${opts.at.toISOString()}` : ''}; check HAVEN_REPLICA_URL`,
      );
    }
    if (!opts.force) {
      const clash = plans.map((p) => join(opts.into, pathForDbName(p.db))).filter((f) => existsSync(f));
      if (clash.length > 0) {
        throw new RestoreRefusedError(`${clash.length} database(s) already exist in ${opts.into} (e.g. ${clash[0]}); restore elsewhere, or stop the node and pass --force to overwrite`);
      }
    }
    const bytesTotal = plans.reduce((n, p) => n + p.objects.reduce((m, o) => m + o.size, 0), 0);
    const objectsTotal = plans.reduce((n, p) => n + p.objects.length, 0);
    const progress = { objectsDone: 0, bytesDone: 0 };
    const report = (phase: RestoreProgress['phase'], db?: string) => {
      if (!opts.onProgress) return;
      const elapsedMs = Date.now() - started;
      const rate = progress.bytesDone > 0 ? progress.bytesDone / Math.max(1, elapsedMs) : 0;
      opts.onProgress({ phase, db, objectsTotal, bytesTotal, ...progress, elapsedMs, etaMs: rate > 0 ? Math.round((bytesTotal - progress.bytesDone) / rate) : null });
    };
    report('plan');
    // Everything lands in a staging directory first and moves into place only when every database
    // is restored and checked, the directory last: a restore cut short changes nothing (and leaves
    // an empty data directory empty, so a rebuilt node's next boot restores again).
    const stage = join(opts.into, '.restore-staging');
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(mailboxDir(stage), { recursive: true, mode: 0o700 });
    const staged: RestoreOptions & { liveDir: string } = { ...opts, into: stage, liveDir: opts.into };
    const out: RestoredDatabase[] = [];
    try {
      // The directory first: managed-mode mailboxes are verified with keys it holds.
      plans.sort((a, b) => compareDbNames(a.db, b.db));
      const [first, ...others] = plans;
      if (first.db === 'directory') out.push(await restoreOne(target, first, staged, progress, report));
      else others.unshift(first);
      // The rest side by side: one database's chain is fetched in order, so parallel databases are what fill the pipe.
      let next = 0;
      let failed: unknown = null;
      const worker = async () => {
        while (failed === null && next < others.length) {
          const plan = others[next++];
          try {
            out.push(await restoreOne(target, plan, staged, progress, report));
          } catch (err) {
            failed ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
      if (failed !== null) throw failed;
      out.sort((a, b) => compareDbNames(a.db, b.db));
    } catch (err) {
      rmSync(stage, { recursive: true, force: true });
      throw err;
    }
    mkdirSync(mailboxDir(opts.into), { recursive: true, mode: 0o700 });
    for (const d of [...out].sort((a, b) => (a.db === 'directory' ? 1 : b.db === 'directory' ? -1 : 0))) {
      const dest = join(opts.into, pathForDbName(d.db));
      for (const ext of ['-wal', '-shm']) rmSync(dest + ext, { force: true });
      renameSync(d.path, dest);
      fsyncDir(dest);
      d.path = dest;
    }
    rmSync(stage, { recursive: true, force: true });
    // A restored data directory starts new generations: drop replication state left there.
    if (opts.force && !opts.only) rmSync(replicationDir(opts.into), { recursive: true, force: true });
    report('done');
    return { databases: out, skipped, bytes: progress.bytesDone, ms: Date.now() - started };
  } finally {
    if (typeof opts.target === 'string') target.close();
  }
}

// ------------------------------------------------------------------ first boot

export interface RestoreIfEmptyOptions {
  url: string;
  dataDir: string;
  /** Null when not configured: fine for an empty replica, an error (missingKey) for a full one. */
  masterKey: Buffer | null;
  missingKey?: () => Error;
  log: Logger;
  onProgress?: (p: RestoreProgress) => void;
}

/**
 * First boot of a rebuilt server: an empty data directory and a configured
 * replica mean "restore before any listener opens". Returns what happened.
 */
export async function restoreIfEmpty(opts: RestoreIfEmptyOptions): Promise<{ restored: false; reason: 'not-empty' | 'replica-empty' } | { restored: true; result: RestoreResult }> {
  if (existsSync(directoryPath(opts.dataDir))) return { restored: false, reason: 'not-empty' };
  const target = openTarget(opts.url);
  try {
    const listing = await withRetry(() => target.list());
    if (!listing.some((o) => parseKey(o.key))) {
      opts.log.info({ target: target.description }, 'replication: empty data directory and an empty replica; starting fresh');
      return { restored: false, reason: 'replica-empty' };
    }
    if (!opts.masterKey) throw opts.missingKey?.() ?? new NothingToRestoreError('the replica holds a node but no master key was given to restore it with');
    opts.log.info({ target: target.description, dataDir: opts.dataDir }, 'replication: empty data directory; restoring from the replica before serving');
    // restore() stages and moves the directory in last: a restore cut short leaves no
    // directory.sqlite, so the next boot restores again instead of serving with mailboxes missing.
    const result = await restore({ target, into: opts.dataDir, masterKey: opts.masterKey, onProgress: opts.onProgress, log: opts.log, force: true });
    opts.log.info({ databases: result.databases.length, bytes: result.bytes, ms: result.ms }, 'replication: restored from the replica');
    return { restored: true, result };
  } finally {
    target.close();
  }
}
