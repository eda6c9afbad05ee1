/**
 * @module node/replication/summary
 * What the replica holds, per database, from one flat listing (grouped by
 * node/replication/listing): the newest
 * generation, its last object and when it arrived. `haven replicate status`
 * shows it when no node is running (and next to live figures when one is).
 */
import { groupListing } from './listing.js';
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
  return groupListing(listing).map(({ db, generations }) => {
    const newest = generations[generations.length - 1];
    let lastAt: number | null = null;
    for (const l of newest.links) if (l.modified) lastAt = Math.max(lastAt ?? 0, l.modified);
    let objects = 0;
    let bytes = 0;
    for (const g of generations) {
      objects += g.links.length;
      for (const l of g.links) bytes += l.size;
    }
    return {
      db,
      generation: newest.id,
      generations: generations.length,
      lastIndex: newest.links[newest.links.length - 1].index,
      lastShippedAt: lastAt,
      snapshots: newest.links.filter((l) => l.kind === 'snapshot').length,
      objects,
      bytes,
    };
  });
}
