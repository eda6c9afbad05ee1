/**
 * @module node/replication/errors
 * Replication and restore errors. Each says what is wrong and what to do.
 */

export class ReplicaConfigError extends Error {
  readonly code = 'REPLICA_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ReplicaConfigError';
  }
}

export interface ChainProblem {
  /** Replica database name (directory, spool, mailbox-<id>). */
  db: string;
  /** The object key concerned, or the key a missing object would have. */
  key: string;
  problem: string;
}

/** The replica's chain is broken: a missing, reordered or damaged object. */
export class ReplicaCorruptError extends Error {
  readonly code = 'REPLICA_CORRUPT';
  constructor(readonly problems: ChainProblem[]) {
    super(
      `the replica is damaged: ${problems.map((p) => `${p.key}: ${p.problem}`).join('; ')}; ` +
        'restore to an earlier point in time (--at) or from another replica, and run `haven backup verify` after the node has replicated again',
    );
    this.name = 'ReplicaCorruptError';
  }
}

export class RestoreRefusedError extends Error {
  readonly code = 'RESTORE_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

export class NothingToRestoreError extends Error {
  readonly code = 'NOTHING_TO_RESTORE';
  constructor(message: string) {
    super(message);
    this.name = 'NothingToRestoreError';
  }
}

export class RestoreVerifyError extends Error {
  readonly code = 'RESTORE_VERIFY';
  constructor(
    readonly db: string,
    detail: string,
  ) {
    super(`restored ${db} failed verification: ${detail}; the replica may be damaged — try an earlier --at, and keep the live data directory`);
    this.name = 'RestoreVerifyError';
  }
}
