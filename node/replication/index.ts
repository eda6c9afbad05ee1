/**
 * @module node/replication
 * Continuous encrypted replication of the node's databases to an S3-compatible
 * store or a filesystem path, and restore from it (whole node or one
 * database, latest or point in time). Start it before the store opens so it
 * sees every database; stop it after the store closed so closes are kept.
 */
import type { Logger } from '../util/log.js';
import { Replicator, type ReplicationStatus, type ReplicatorOptions } from './replicator.js';
import { openTarget, type TargetCredentials } from './target.js';

export interface StartReplicationOptions extends Omit<ReplicatorOptions, 'target' | 'dataDir' | 'log'> {
  /** HAVEN_REPLICA_URL: s3://bucket/prefix?endpoint=…&region=…&path_style=1 or file:///path */
  url: string;
  dataDir: string;
  /** Not needed to replicate (everything shipped is ciphertext); kept for restore-time verification by callers. */
  masterKey?: Buffer;
  log: Logger;
  credentials?: TargetCredentials;
}

export interface Replication {
  status(): ReplicationStatus;
  /** Resolves when everything committed so far is in the replica. */
  flush(timeoutMs?: number): Promise<void>;
  /** Ships what it can (bounded), then stops observing. */
  stop(timeoutMs?: number): Promise<void>;
  /** Prunes history past the retention window now (it also runs on a timer). */
  runRetention(): Promise<{ deleted: number }>;
}

export function startReplication(opts: StartReplicationOptions): Replication {
  const { url, dataDir, log, credentials, masterKey: _masterKey, ...rest } = opts;
  const target = openTarget(url, credentials);
  const r = new Replicator(target, dataDir, log.child({ mod: 'replication' }), rest);
  r.start();
  log.info({ target: target.description }, 'replication: started');
  return {
    status: () => r.status(),
    flush: (ms) => r.flush(ms),
    stop: (ms) => r.stop(ms),
    runRetention: () => r.runRetention(),
  };
}

export { Replicator, type ReplicationStatus, type ReplicatorOptions } from './replicator.js';
export { restore, restoreIfEmpty, verifyBackup, planRestore, type RestoreOptions, type RestoreResult, type RestoreProgress, type RestoredDatabase, type VerifyOptions, type VerifyReport, type VerifyEntry } from './restore.js';
export { openTarget, FileTarget, S3Target, type ReplicaTarget, type ListedObject, type TargetCredentials } from './target.js';
export { ReplicaConfigError, ReplicaCorruptError, RestoreRefusedError, RestoreVerifyError, NothingToRestoreError, type ChainProblem } from './errors.js';
