/**
 * @module node/replication/follow
 * A standby following the replica: on a timer it lists the replica (one
 * flat listing, grouped by node/replication/listing), finds each database
 * whose newest chain position moved since it was last applied, and rebuilds
 * that database into the data directory with the restore steps
 * (restore-plan, restore-apply, restore-verify through `restore`). Nothing
 * else has the databases open while a node stands by, so replacing files is
 * safe; the directory is applied first, as in any restore.
 *
 * Lag, as `haven replicate status` and /health show it: how long the oldest
 * object the standby has not yet applied has been in the replica (0 when it
 * has applied everything it saw). Add the primary's own commit-to-replica
 * lag for the age of an acknowledged write on the standby.
 *
 * A database is rebuilt from its newest snapshot the first time (and
 * whenever its generation changes, or a link does not check out); after
 * that only the new objects are applied onto the file already here
 * (restore-apply's applyIncrement, the same checks as a restore), so a pass
 * costs what arrived since the last one, not the WAL since the snapshot.
 * The chain end lives in memory only: a standby that restarts rebuilds
 * every database once, so a pass cut short by a crash is never built on.
 */
import type { Logger } from '../util/log.js';
import { groupListing, type ListedDatabase } from './listing.js';
import { join } from 'node:path';
import { pathForDbName } from './object.js';
import { restore } from './restore.js';
import { applyIncrement, withRetry, type ChainTail } from './restore-apply.js';
import type { ReplicaTarget } from './target.js';

export interface FollowStatus {
  /** Databases applied at least once. */
  databases: number;
  /** Last pass that applied or found nothing new (ms since epoch; 0: none yet). */
  caughtUpAt: number;
  /** How long the oldest not-yet-applied object has waited in the replica (0: nothing waiting). */
  lagMs: number;
  /** Objects seen in the replica and not yet applied. */
  behindObjects: number;
  /** Replica-to-applied delay of recently applied objects (ms), newest last; for p50/p99. */
  recentDelays: number[];
  lastError: string | null;
  /** Databases brought up to date so far: by applying only the new objects, or rebuilt from a snapshot. */
  applies: { incremental: number; rebuilt: number };
}

export interface Position {
  generation: string;
  index: number;
}

/** Per database, where its newest chain ends. Pure. */
export function chainEnds(dbs: readonly ListedDatabase[]): Map<string, Position & { generationLinks: { modified: number; index: number }[] }> {
  const out = new Map<string, Position & { generationLinks: { modified: number; index: number }[] }>();
  for (const d of dbs) {
    const g = d.generations[d.generations.length - 1];
    if (!g || g.links.length === 0) continue;
    const last = g.links[g.links.length - 1];
    out.set(d.db, { generation: g.id, index: last.index, generationLinks: g.links.map((l) => ({ modified: l.modified, index: l.index })) });
  }
  return out;
}

/** What a pass must apply: databases whose chain end moved, with the objects new since `applied`. Pure. */
export function whatIsNew(dbs: readonly ListedDatabase[], applied: ReadonlyMap<string, Position>): { db: string; end: Position; newLinks: { modified: number; index: number }[] }[] {
  const out: { db: string; end: Position; newLinks: { modified: number; index: number }[] }[] = [];
  for (const [db, end] of chainEnds(dbs)) {
    const had = applied.get(db);
    if (had && had.generation === end.generation && had.index >= end.index) continue;
    const newLinks = had && had.generation === end.generation ? end.generationLinks.filter((l) => l.index > had.index) : end.generationLinks;
    out.push({ db, end: { generation: end.generation, index: end.index }, newLinks });
  }
  return out;
}

export interface FollowerOptions {
  target: ReplicaTarget;
  dataDir: string;
  masterKey: Buffer;
  log: Logger;
  /** Pause between passes (default 1 s). */
  intervalMs?: number;
  /** Bytes of new objects applied at once (default INCREMENT_BYTES). */
  incrementBytes?: number;
}

const MAX_DELAYS = 10_000;
/** Bytes of new objects applied at once (a 1 GB server follows a primary's bulk import). */
const INCREMENT_BYTES = 16 << 20;

/** Consecutive groups of links of at most `max` bytes each (a larger link alone). Pure. */
export function batches<T extends { size: number }>(links: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const l of links) {
    if (cur.length > 0 && bytes + l.size > max) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(l);
    bytes += l.size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export class Follower {
  private readonly appliedAt = new Map<string, Position>();
  /** Per database, the chain end its file holds, to apply the next objects onto. */
  private readonly tails = new Map<string, ChainTail>();
  /** How passes applied databases: incrementally, or rebuilt from a snapshot (for status and the bench). */
  readonly counts = { incremental: 0, rebuilt: 0 };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private st: Omit<FollowStatus, 'applies'> = { databases: 0, caughtUpAt: 0, lagMs: 0, behindObjects: 0, recentDelays: [], lastError: null };
  private oldestWaiting = 0;

  constructor(private readonly o: FollowerOptions) {}

  status(): FollowStatus {
    const lagMs = this.oldestWaiting > 0 ? Date.now() - this.oldestWaiting : 0;
    return { ...this.st, databases: this.appliedAt.size, lagMs, recentDelays: [...this.st.recentDelays], applies: { ...this.counts } };
  }

  /** Per database, the chain position applied last: what a promoted node took over (node/replication/takeover). */
  applied(): Record<string, Position> {
    return Object.fromEntries([...this.appliedAt].map(([db, p]) => [db, { ...p }]));
  }

  /** One pass: list, apply what is new. Concurrent callers share the pass in flight. */
  catchUp(): Promise<void> {
    return (this.running ??= this.pass().finally(() => (this.running = null)));
  }

  private async pass(): Promise<void> {
    const { target, dataDir, masterKey, log } = this.o;
    try {
      const listing = await withRetry(() => target.list(), 3);
      const grouped = groupListing(listing);
      const todo = whatIsNew(grouped, this.appliedAt);
      const waiting = todo.flatMap((t) => t.newLinks.map((l) => l.modified)).filter((m) => m > 0);
      this.oldestWaiting = waiting.length > 0 ? Math.min(...waiting) : 0;
      this.st.behindObjects = todo.reduce((n, t) => n + t.newLinks.length, 0);
      for (const t of todo) {
        if (this.stopped) return;
        await this.applyOne(t.db, t.end, grouped);
        this.appliedAt.set(t.db, t.end);
        const now = Date.now();
        for (const l of t.newLinks) if (l.modified > 0) this.st.recentDelays.push(now - l.modified);
        if (this.st.recentDelays.length > MAX_DELAYS) this.st.recentDelays.splice(0, this.st.recentDelays.length - MAX_DELAYS);
      }
      this.oldestWaiting = 0;
      this.st.behindObjects = 0;
      this.st.caughtUpAt = Date.now();
      this.st.lastError = null;
      if (todo.length > 0) log.debug({ databases: todo.length }, 'standby: applied new replica objects');
    } catch (err) {
      this.st.lastError = (err as Error).message;
      log.warn({ err }, 'standby: could not apply the replica; will try again');
    }
  }

  /** The new objects onto the file when its chain end is known and the generation the same; a rebuild otherwise. */
  private async applyOne(db: string, end: Position, grouped: readonly ListedDatabase[]): Promise<void> {
    const { target, dataDir, masterKey, log } = this.o;
    const tail = this.tails.get(db);
    if (tail && tail.generation === end.generation) {
      const gen = grouped.find((d) => d.db === db)?.generations.find((g) => g.id === end.generation);
      const links = (gen?.links ?? []).filter((l) => l.index > tail.index && l.index <= end.index);
      // Contiguous from the end we hold; a gap (an object listed late) waits for the next pass.
      // A rebuild can reach past the listing that asked for it: then there is nothing new.
      if (links.length === 0 && tail.index >= end.index) return;
      if (links.length > 0 && links.every((l, i) => l.index === tail.index + 1 + i)) {
        try {
          // In batches of at most INCREMENT_BYTES: each is held in memory whole until checked, and ends
          // at a state of the chain, so a failure part way leaves the file at the last batch's end.
          let at = tail;
          for (const batch of batches(links, this.o.incrementBytes ?? INCREMENT_BYTES)) {
            at = (await applyIncrement(target, join(dataDir, pathForDbName(db)), at, batch)).tail;
            this.tails.set(db, at);
          }
          this.counts.incremental++;
          return;
        } catch (err) {
          log.warn({ err, db }, 'standby: could not apply the new objects onto the database; rebuilding it from its snapshot');
        }
      }
    }
    this.tails.delete(db);
    const only = db === 'directory' || db === 'spool' ? db : db.slice('mailbox-'.length);
    const res = await restore({ target, into: dataDir, only, force: true, masterKey, log, concurrency: 1 });
    const restored = res.databases.find((d) => d.db === db);
    if (restored?.tail) this.tails.set(db, restored.tail);
    this.counts.rebuilt++;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      if (this.stopped) return;
      void this.catchUp().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.o.intervalMs ?? 1000);
      });
    };
    tick();
  }

  /** Stops the timer and waits for a pass in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** For promotion: stop the timer but allow a last, explicit pass. */
  async pause(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopped = true;
    await this.running;
    this.stopped = false;
  }
}
