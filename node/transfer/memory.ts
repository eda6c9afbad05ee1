/**
 * @module node/transfer/memory
 * Keeps an import's memory near what it really holds. V8 frees a Buffer's
 * memory only when a collection finds the Buffer dead, and it schedules
 * collections by JS-heap growth; an import allocates mostly outside that
 * heap (each message's bytes, its encrypted copy, its decoded text), so
 * dead ones pile up between collections. Measured with `npm run bench --
 * import --mb 2048 --kb 200`: the importing process went from 95 MB to a
 * 232 MB peak with 2 MB chunks and batches, though it holds about 6 MB of
 * messages at a time; a full collection every 250 ms kept a 300 MB import
 * at 135 MB. So after a batch, when RSS is more than `slack` above the
 * job's start and enough was imported since the last one, the job asks for
 * a full collection (a few tens of ms); an import that stays small pays
 * nothing. With it the same 2 GB import peaked at 173 MB.
 *
 * Only in the CLI's own process (no node running: `haven import` holds the
 * data directory itself and serves nobody else). Inside the node a full
 * collection stops every session for its tens of ms, so there the bound
 * is left to V8's own collections, which it starts by the external memory
 * the Buffers report; the import's batches bound what is live. Measured
 * with `npm run bench -- import --through-node --mb 2048 --kb 200` (load
 * 7.5 on 2 cores): the node went from 139 MB to a 256 MB peak, reached in
 * the first half of the messages and not passed in the second (302 MB in
 * a later run at load 3). With 512 KB batches and IMAP chunks in the node
 * (import-job.ts NODE_BATCH_BYTES) and slices: 148 MB to a 210 MB peak
 * (204 MB over the first half), load 3.2. At the peak the node's V8 heap
 * was about 100 MB of it (parsed text and its garbage between V8's own
 * collections) and Buffers 15 to 30 MB.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/** V8's gc(), without starting Node with --expose-gc; null if this V8 refuses. */
function fullGc(): (() => void) | null {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

let forcedAllowed = false;

/** Called by the CLI when it runs a job in its own process; never by the node, whose sessions a collection would pause. */
export function allowForcedCollections(): void {
  forcedAllowed = true;
}

/** Whether this process serves nobody but its job (the CLI with no node running): then an import may hold the event loop longer. */
export function processRunsAlone(): boolean {
  return forcedAllowed;
}

export class MemoryBound {
  private readonly start = process.memoryUsage.rss();
  private sinceLast = 0;
  collections = 0;

  /**
   * @param slackBytes RSS above the job's start that sets off a collection
   * @param everyBytes bytes imported between two collections at least, so a process whose RSS stays high for other reasons is not collected after every batch
   */
  constructor(
    private readonly slackBytes = 32 * 1024 * 1024,
    private readonly everyBytes = 8 * 1024 * 1024,
  ) {}

  /** Call after a batch of `bytes`: collects when RSS is `slack` above the start. */
  check(bytes: number): void {
    this.sinceLast += bytes;
    if (!forcedAllowed) return;
    if (this.sinceLast < this.everyBytes || process.memoryUsage.rss() - this.start <= this.slackBytes) return;
    const collect = fullGc();
    if (!collect) return;
    collect();
    this.collections++;
    this.sinceLast = 0;
  }
}
