/**
 * @module node/replication/listing
 * One flat listing of the replica, grouped once: database → generation →
 * objects in chain order. Status (`haven replicate status`), retention and
 * the restore plan all read the replica through this, and so can a standby
 * that follows the replica: it lists, groups, and applies what is new past
 * the chain position it holds. Pure: it takes the listing the target gave.
 */
import { generationTime, parseKey, type ObjectKind } from './object.js';
import type { ListedObject } from './target.js';

/** One object of one chain, as listed. */
export interface ListedLink {
  key: string;
  size: number;
  /** When the store last modified it (0 when the store did not say). */
  modified: number;
  index: number;
  kind: ObjectKind;
}

export interface ListedGeneration {
  id: string;
  /** When the generation began (from its time-ordered id). */
  startedAt: number;
  /** Its objects by ascending index. */
  links: ListedLink[];
}

export interface ListedDatabase {
  db: string;
  /** Oldest first: the newest generation is the last. */
  generations: ListedGeneration[];
}

/** Groups a listing; keys that are not replica objects are ignored. `only` keeps one database. */
export function groupListing(listing: readonly ListedObject[], only?: string): ListedDatabase[] {
  const byDb = new Map<string, Map<string, ListedLink[]>>();
  for (const o of listing) {
    const k = parseKey(o.key);
    if (!k || (only !== undefined && k.db !== only)) continue;
    let gens = byDb.get(k.db);
    if (!gens) byDb.set(k.db, (gens = new Map()));
    let links = gens.get(k.generation);
    if (!links) gens.set(k.generation, (links = []));
    links.push({ key: o.key, size: o.size, modified: o.modified ?? 0, index: k.index, kind: k.kind });
  }
  const out: ListedDatabase[] = [];
  for (const [db, gens] of byDb) {
    const generations = [...gens.keys()].sort().map((id) => ({ id, startedAt: generationTime(id), links: gens.get(id)!.sort((a, b) => a.index - b.index) }));
    out.push({ db, generations });
  }
  return out.sort((a, b) => compareDbNames(a.db, b.db));
}

/** The directory first (restores need its keys), then by name. */
export function compareDbNames(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'directory') return -1;
  if (b === 'directory') return 1;
  return a < b ? -1 : 1;
}

/**
 * What retention deletes: whole generations superseded before the window
 * began, and within a generation every object before the newest snapshot
 * that is itself older than the window (the chain from that snapshot on
 * still restores every moment inside the window).
 */
export function expiredKeys(dbs: readonly ListedDatabase[], cutoff: number, now: number): string[] {
  const doomed: string[] = [];
  for (const d of dbs) {
    d.generations.forEach((g, i) => {
      const next = d.generations[i + 1];
      if (next && next.startedAt < cutoff) {
        doomed.push(...g.links.map((l) => l.key));
        return;
      }
      const oldSnaps = g.links.filter((l) => l.kind === 'snapshot' && (l.modified || now) < cutoff);
      const keepFrom = oldSnaps.length > 0 ? oldSnaps[oldSnaps.length - 1].index : 0;
      doomed.push(...g.links.filter((l) => l.index < keepFrom).map((l) => l.key));
    });
  }
  return doomed;
}
