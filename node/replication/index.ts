/**
 * @module node/replication
 * Continuous encrypted replication of the node's databases to an S3-compatible
 * store or a filesystem path, and restore from it (whole node or one
 * database, latest or point in time).
 *
 * What node/main.ts calls, in this order:
 *   1. `restoreOnEmptyDataDir(config, log)` before the store opens and before
 *      any listener: a rebuilt server with an empty data directory comes
 *      back from its replica;
 *   2. `startReplication(config, store, log)`: observes every database (the
 *      store's already-open ones are adopted) and returns status and stop
 *      (`replicationControl` answers the CLI over node/admin/control);
 *   3. `replication.stop()` after the store closed, so closes are kept.
 */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { loadMasterKey } from '../crypto/index.js';
import type { Db, Store } from '../store/index.js';
import { directoryPath, spoolPath } from '../store/layout.js';
import type { Logger } from '../util/log.js';
import { ReplicaConfigError } from './errors.js';
import { Replicator, type DatabaseStatus, type ReplicationStatus, type ReplicatorOptions } from './replicator.js';
import { restoreIfEmpty, type RestoreProgress, type RestoreResult } from './restore.js';
import { openTarget, type ReplicaTarget, type TargetCredentials } from './target.js';

export interface ReplicateOptions extends Omit<ReplicatorOptions, 'target' | 'dataDir' | 'log'> {
  /** s3://bucket/prefix?endpoint=…&region=… or file:///path */
  url: string;
  dataDir: string;
  log: Logger;
  credentials?: TargetCredentials;
  /** Wraps the target (the fence's guard: writes refused once this node is not the primary). */
  guard?: (target: ReplicaTarget) => ReplicaTarget;
}

export interface Replication {
  status(): ReplicationStatus;
  databases(): DatabaseStatus[];
  /** Resolves when everything committed so far is in the replica. */
  flush(timeoutMs?: number): Promise<void>;
  /** A fresh snapshot of every open database, then flush: `haven backup`. */
  backupNow(timeoutMs?: number): Promise<{ snapshots: number }>;
  /** Ships what it can (bounded), then stops observing. */
  stop(timeoutMs?: number): Promise<void>;
  /** Prunes history past the retention window now (it also runs on a timer). */
  runRetention(): Promise<{ deleted: number }>;
}

export interface LocalReplication extends Replication {
  /** Replicates a database that was opened before replication started. */
  adopt(path: string, db: Db): void;
}

/** Starts replicating a data directory (the building block; the node uses startReplication). */
export function replicate(opts: ReplicateOptions): LocalReplication {
  const { url, dataDir, log, credentials, guard, ...rest } = opts;
  const target = guard ? guard(openTarget(url, credentials)) : openTarget(url, credentials);
  const r = new Replicator(target, dataDir, log.child({ mod: 'replication' }), rest);
  r.start();
  const handle: LocalReplication = {
    status: () => r.status(),
    databases: () => r.databases(),
    flush: (ms) => r.flush(ms),
    backupNow: (ms) => r.backupNow(ms),
    stop: (ms) => r.stop(ms),
    runRetention: () => r.runRetention(),
    adopt: (path, db) => r.adopt(path, db),
  };
  log.info({ target: target.description }, 'replication: started');
  return handle;
}

/**
 * The node's replication, from its config: null when no replica is
 * configured (`replicaUrl` empty). Pass the open store so the databases it
 * already opened (directory, spool, any mailbox) are replicated too.
 */
export function startReplication(
  config: Config,
  store: Store | null,
  log: Logger,
  tuning: Omit<ReplicatorOptions, 'target' | 'dataDir' | 'log'> = {},
  guard?: (target: ReplicaTarget) => ReplicaTarget,
): Replication | null {
  if (!config.replicaUrl) return null;
  const rep = replicate({ url: config.replicaUrl, dataDir: config.dataDir, log, guard, ...tuning });
  if (store) {
    rep.adopt(directoryPath(store.dataDir), store.directory.db);
    rep.adopt(spoolPath(store.dataDir), store.spool.db);
  }
  return rep;
}

/** The master key from config (value or file), never generated: a restore needs the node's real key. */
export function configuredMasterKey(config: Config): Buffer | null {
  try {
    return loadMasterKey({ value: config.masterKey || undefined, file: config.masterKeyFile || undefined, localFile: join(config.dataDir, 'master.key'), allowGenerate: false }).key;
  } catch {
    return null;
  }
}

/**
 * First boot of a rebuilt server: an empty data directory and a configured
 * replica mean restore before anything else opens. Returns what happened;
 * throws (with what to do) when the replica holds data but the master key
 * is not available, since starting fresh would fork the node's history.
 */
export async function restoreOnEmptyDataDir(
  config: Config,
  log: Logger,
  onProgress?: (p: RestoreProgress) => void,
): Promise<{ restored: false; reason: 'no-replica' | 'not-empty' | 'replica-empty' } | { restored: true; result: RestoreResult }> {
  if (!config.replicaUrl) return { restored: false, reason: 'no-replica' };
  const masterKey = configuredMasterKey(config);
  return restoreIfEmpty({
    url: config.replicaUrl,
    dataDir: config.dataDir,
    masterKey,
    log,
    onProgress,
    missingKey: () =>
      new ReplicaConfigError(
        `the data directory ${config.dataDir} is empty and the replica holds a node, but no master key is configured; set HAVEN_MASTER_KEY_FILE (or HAVEN_MASTER_KEY) to the node's key and start again`,
      ),
  });
}

export { Replicator, type DatabaseStatus, type ReplicationStatus, type ReplicatorOptions } from './replicator.js';
export {
  restore,
  restoreIfEmpty,
  verifyBackup,
  planRestore,
  liveImage,
  type RestoreOptions,
  type RestoreResult,
  type RestoreProgress,
  type RestoredDatabase,
  type VerifyOptions,
  type VerifyReport,
  type VerifyEntry,
} from './restore.js';
export { startFence, startStandbyReplica, type NodeFence, type StandbyReplica, type StandbyStatus } from './failover.js';
export { Fence, epochHistory, latestEpoch, ReplicaFencedError, type EpochRecord } from './epoch.js';
export type { FenceState } from './fence.js';
export type { FollowStatus } from './follow.js';
export { replicationControl, type ReplicationControl, type ReplicationRequest, type ReplicationReply } from './control.js';
export { replicaSummary, type ReplicaDbSummary } from './summary.js';
export { openTarget, FileTarget, S3Target, type ReplicaTarget, type ListedObject, type TargetCredentials } from './target.js';
export { ReplicaConfigError, ReplicaCorruptError, RestoreRefusedError, RestoreVerifyError, NothingToRestoreError, type ChainProblem } from './errors.js';
