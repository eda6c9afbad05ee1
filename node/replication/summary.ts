/**
 * @module node/replication/summary
 * What the replica holds, per database, from one flat listing: the newest
 * generation, its last object and when it arrived. `haven replicate status`
 * shows it when no node is running (and next to live figures when one is).
 */
import { parseKey } from './object.js';
import type { ListedObject } from './target.js';

export interface ReplicaDbSummary {
  db: string;
  generation: string;
  generations: number;
  /** Index of the newest object of the newest generation. */
  lastIndex: number;
  /** When the newest object arrived (the store's last-modified time). */
  lastShippedAt: number | null;
  snapshots: number;
  objects: number;
  bytes: number;
}

export function replicaSummary(listing: ListedObject[]): ReplicaDbSummary[] {
  const by = new Map<string, Map<string, ListedObject[]>>();
  for (const o of listing) {
    const k = parseKey(o.key);
    if (!k) continue;
    let gens = by.get(k.db);
    if (!gens) by.set(k.db, (gens = new Map()));
    const list = gens.get(k.generation) ?? [];
    list.push(o);
    gens.set(k.generation, list);
  }
  const out: ReplicaDbSummary[] = [];
  for (const [db, gens] of by) {
    const ids = [...gens.keys()].sort();
    const generation = ids[ids.length - 1];
    const objs = gens.get(generation)!;
    let lastIndex = -1;
    let lastAt: number | null = null;
    let snapshots = 0;
    for (const o of objs) {
      const k = parseKey(o.key)!;
      if (k.index > lastIndex) lastIndex = k.index;
      if (o.modified !== undefined) lastAt = Math.max(lastAt ?? 0, o.modified);
      if (k.kind === 'snapshot') snapshots++;
    }
    let objects = 0;
    let bytes = 0;
    for (const list of gens.values()) {
      objects += list.length;
      for (const o of list) bytes += o.size;
    }
    out.push({ db, generation, generations: ids.length, lastIndex, lastShippedAt: lastAt, snapshots, objects, bytes });
  }
  return out.sort((a, b) => (a.db === 'directory' ? -1 : b.db === 'directory' ? 1 : a.db < b.db ? -1 : 1));
}
