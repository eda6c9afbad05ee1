/**
 * @module node/replication/tracker
 * What the replicator keeps per database: its connection (when open), its
 * chain state (node/replication/chain-state), the objects waiting to be
 * uploaded in chain order, the commits not cut yet, and the state file in
 * `<dataDir>/.replication/state/` that lets a restart continue the chain.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../store/db.js';
import { writeDurable } from '../util/fsync.js';
import { headOf, NONE, RESET_POS, type ChainHead, type ChainState, type FileStat, type WalPos } from './chain-state.js';
import type { ObjectHeader } from './object.js';

export interface Persisted {
  v: 1;
  db: string;
  generation: string;
  /** Last durable object (uploaded, or in the outbox); -1 when the generation has none yet. */
  index: number;
  checksum: string | null;
  pos: WalPos;
  dbStat: FileStat | null;
  lastSnapshotAt: number;
  bytesSinceSnapshot: number;
}

export interface Pending {
  header: ObjectHeader;
  /** sha256 of the encoded object: what the next object's `prev` names. */
  checksum: string;
  /** Encoded length. */
  size: number;
  /**
   * The encoded object in memory (WAL objects, small snapshots), or null: a
   * piece of a large snapshot is read again from the database file when it
   * is uploaded (the file cannot change meanwhile: nothing checkpoints while
   * objects wait, and spilling to the outbox materializes them first), and
   * an outbox object from its outbox file. A database of gigabytes never
   * sits in memory whole.
   */
  bytes: Buffer | null;
  source: { path: string; offset: number; length: number } | null;
  key: string;
  after: { generation: string; index: number; checksum: string; pos: WalPos };
  outbox: string | null;
  oldestAt: number | null;
}

export class Tracker {
  db: Db | null = null;
  pageSize = 4096;
  /** Where this database stands with its chain (node/replication/chain-state). */
  chain: ChainState = NONE;
  lastSnapshotAt = 0;
  bytesSinceSnapshot = 0;
  q: Pending[] = [];
  commits: { end: number; at: number }[] = [];
  running = false;
  dirty = false;
  alarmed = false;
  retryTimer: NodeJS.Timeout | null = null;
  /** `haven backup`: take a snapshot at the next checkpoint even if none is due. */
  forceSnapshot = false;
  /** Last object known to be in the replica, and when it got there. */
  shipped: { generation: string; index: number; at: number } | null = null;
  /** Some object of this database is durable (in the replica, or in the outbox on its way) from an earlier run. */
  hadChain = false;

  constructor(
    readonly name: string,
    readonly path: string,
  ) {}

  get walPath(): string {
    return `${this.path}-wal`;
  }

  /** The chain's head; only where the chain is known to be whole. */
  get head(): ChainHead {
    if (this.chain.kind !== 'chain') throw new Error(`replication: ${this.name} has no chain to continue (${this.chain.kind})`);
    return this.chain.head;
  }

  /** Where shipping stands in the WAL (of the last chain known, when it broke). */
  get pos(): WalPos {
    return headOf(this.chain)?.pos ?? RESET_POS;
  }

  get needsGeneration(): boolean {
    return this.chain.kind !== 'chain';
  }
}

/** The state an earlier run saved for `name`, or null. */
export function loadSaved(stateDir: string, name: string): Persisted | null {
  try {
    const s = JSON.parse(readFileSync(join(stateDir, `${name}.json`), 'utf8')) as Persisted;
    return s.v === 1 && s.db === name ? s : null;
  } catch {
    return null;
  }
}

/** Saves the chain position `head` (the last durable object) with the tracker's snapshot bookkeeping. */
export function save(stateDir: string, t: Tracker, head: Pick<ChainHead, 'generation' | 'index' | 'checksum' | 'pos'>): void {
  const s: Persisted = {
    v: 1,
    db: t.name,
    generation: head.generation,
    index: head.index,
    checksum: head.checksum,
    pos: head.pos,
    dbStat: headOf(t.chain)?.dbStat ?? null,
    lastSnapshotAt: t.lastSnapshotAt,
    bytesSinceSnapshot: t.bytesSinceSnapshot,
  };
  writeDurable(join(stateDir, `${t.name}.json`), Buffer.from(JSON.stringify(s)));
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
