/**
 * @module node/replication/takeover
 * What a promoted node took over: per database, the last chain position it
 * applied before it began to serve, in the object `takeover/<epoch>`. The
 * old primary's lease stops its shipping soon after the new epoch, but an
 * upload it began before could still land after the new node's last pass;
 * such an object is in the replica yet in no database the new primary
 * serves. The old primary, rejoining, compares what it shipped with this
 * record and reports every database where it shipped more
 * (node/replication/rejoin), so nothing is lost without a word.
 */
import type { Position } from './follow.js';
import type { ReplicaTarget } from './target.js';

export const TAKEOVER_PREFIX = 'takeover/';

export function takeoverKey(epoch: number): string {
  return TAKEOVER_PREFIX + epoch.toString(16).padStart(16, '0');
}

export interface TakeoverRecord {
  epoch: number;
  at: number;
  /** Database name → the position applied last (absent: none of its objects was applied). */
  applied: Record<string, Position>;
}

export async function writeTakeover(target: ReplicaTarget, rec: TakeoverRecord): Promise<void> {
  await target.put(takeoverKey(rec.epoch), Buffer.from(JSON.stringify(rec)));
}

export async function readTakeover(target: ReplicaTarget, epoch: number): Promise<TakeoverRecord | null> {
  try {
    return JSON.parse((await target.get(takeoverKey(epoch))).toString('utf8')) as TakeoverRecord;
  } catch (err) {
    const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } };
    if (e?.code === 'ENOENT' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}

/**
 * Whether the old primary shipped past what the new one took, for one
 * database. Pure. `shipped`: its saved position (null: it never shipped
 * this database). Generation ids are time-ordered, so a later id is a
 * generation begun after.
 */
export function shippedPastTakeover(shipped: Position | null, took: Position | undefined): boolean {
  if (!shipped) return false;
  if (!took) return true;
  if (shipped.generation !== took.generation) return shipped.generation > took.generation;
  return shipped.index > took.index;
}
