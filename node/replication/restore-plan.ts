/**
 * @module node/replication/restore-plan
 * The first step of a restore: from one grouped listing, choose per
 * database the generation and the objects to apply (the newest usable
 * snapshot onwards, for the latest state or a point in time), and name
 * every gap in the chain before anything is fetched. Pure.
 */
import type { ChainProblem } from './errors.js';
import { groupListing, type ListedLink } from './listing.js';
import { objectKey } from './object.js';

export interface Plan {
  db: string;
  generation: string;
  objects: ListedLink[];
}

/** Chooses, per database, the generation and the objects to apply. */
export function planRestore(listing: { key: string; size: number; modified?: number }[], only?: string, at?: Date): { plans: Plan[]; skipped: string[]; problems: ChainProblem[] } {
  const wanted = only === undefined ? undefined : only === 'directory' || only === 'spool' ? only : `mailbox-${only}`;
  const plans: Plan[] = [];
  const skipped: string[] = [];
  const problems: ChainProblem[] = [];
  const t = at?.getTime();
  for (const { db, generations } of groupListing(listing, wanted)) {
    const usableGens = generations.filter((g) => t === undefined || g.startedAt <= t);
    if (usableGens.length === 0) {
      skipped.push(db);
      continue;
    }
    const { id: generation, links: objs } = usableGens[usableGens.length - 1];
    const snaps = objs.filter((o) => o.kind === 'snapshot');
    if (snaps.length === 0) {
      problems.push({ db, key: objectKey('', db, generation, 0, 'snapshot'), problem: 'missing: the generation has no snapshot to start from' });
      continue;
    }
    // A snapshot uploaded before `at` was certainly taken before it.
    const usable = t === undefined ? snaps : snaps.filter((s) => s.modified <= t || s === snaps[0]);
    const start = usable[usable.length - 1];
    const chain = objs.filter((o) => o.index >= start.index);
    for (let i = 1; i < chain.length; i++) {
      for (let missing = chain[i - 1].index + 1; missing < chain[i].index; missing++) {
        // Only pieces of a snapshot sit between a snapshot and another piece; anything else is WAL.
        const kind = chain[i].kind === 'part' ? 'part' : 'wal';
        problems.push({ db, key: objectKey('', db, generation, missing, kind), problem: `missing: object ${missing} of generation ${generation} is not in the replica (have ${chain[i - 1].index} and ${chain[i].index})` });
      }
    }
    plans.push({ db, generation, objects: chain });
  }
  return { plans, skipped, problems };
}

