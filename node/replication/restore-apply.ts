/**
 * @module node/replication/restore-apply
 * The second step of a restore: fetch one database's planned chain in
 * order (prefetching ahead, retrying the store's hiccups), check every link
 * (object checksum, place in the chain, the WAL's own frame checksums) and
 * rebuild the file by writing each committed frame's page into the
 * snapshot, byte for byte with no key. The result is verified
 * (restore-verify) before it takes the database's name.
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, writeSync, writevSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ReplicaCorruptError, RestoreRefusedError, type ChainProblem } from './errors.js';
import { ObjectFormatError, decodeObject, objectKey, pathForDbName, type ReplicaObject } from './object.js';
import type { RestoredDatabase, RestoreOptions, RestoreProgress } from './restore.js';
import type { ListedLink } from './listing.js';
import type { Plan } from './restore-plan.js';
import { verifyRestored } from './restore-verify.js';
import type { ReplicaTarget } from './target.js';
import { FRAME_HEADER_SIZE, WAL_HEADER_SIZE, parseWalHeader, scanFrames } from './wal.js';
import { backoffMs } from '../util/backoff.js';
import { fsyncDir } from '../util/fsync.js';

const PREFETCH_BYTES = 48 << 20;

/**
 * Where a rebuilt database's chain ends, kept by a standby (node/replication/follow)
 * so the next objects of the same generation apply onto the file as it is,
 * checked against this end exactly as a restore checks each link.
 */
export interface ChainTail {
  db: string;
  generation: string;
  index: number;
  prev: ReplicaObject;
  prevWal: ReplicaObject | null;
  pageSize: number;
  pageCount: number;
  snapParts: number;
  snapSeen: number;
}

/** Where the rebuild of one database stands, object by object. */
interface Rebuild {
  readonly plan: Plan;
  readonly fd: number;
  readonly pages: PageWriter;
  /** The point in time, if any. */
  readonly t: number | undefined;
  pageSize: number;
  pageCount: number;
  stateAt: number;
  prev: ReplicaObject | null;
  prevWal: ReplicaObject | null;
  /** Pieces of the starting snapshot: how many it has, how many are written. */
  snapParts: number;
  snapSeen: number;
  applied: number;
  /** Past the point in time: nothing more applies. */
  done: boolean;
}

/** Why `obj` cannot be the next link of the chain, or null. */
function linkProblem(r: Rebuild, listed: ListedLink, obj: ReplicaObject): string | null {
  const h = obj.header;
  if (h.db !== r.plan.db || h.generation !== r.plan.generation) return `belongs to ${h.db}/${h.generation}, not here (moved or replaced object)`;
  if (h.index !== listed.index || h.kind !== listed.kind) return `holds object ${h.index} (${h.kind}) but is stored as ${listed.index} (${listed.kind}): reordered`;
  if (r.prev && h.prev !== r.prev.checksum) return `does not follow object ${r.prev.header.index}: its previous-checksum differs (an object was replaced or reordered)`;
  return null;
}

function applySnapshot(r: Rebuild, obj: ReplicaObject): string | null {
  const h = obj.header;
  if (r.prev === null && r.t !== undefined && h.createdAt > r.t) {
    throw new RestoreRefusedError(
      `${r.plan.db}: the oldest history kept for generation ${r.plan.generation} starts at ${new Date(h.createdAt).toISOString()}, after the requested ${new Date(r.t).toISOString()} (pruned by retention); pick a later --at`,
    );
  }
  // A later snapshot in the chain equals the state already rebuilt; it only carries the chain on.
  if (r.prev !== null) return null;
  r.pageSize = h.pageSize;
  writeAll(r.fd, obj.payload, h.offset ?? 0);
  r.pageCount = h.pages ?? Math.floor(obj.payload.length / r.pageSize);
  r.stateAt = h.createdAt;
  r.snapParts = h.parts ?? 1;
  r.snapSeen = 1;
  r.applied++;
  return null;
}

function applyPart(r: Rebuild, obj: ReplicaObject): string | null {
  const h = obj.header;
  if (r.prev === null) return 'the chain starts with a piece of a snapshot, not the snapshot itself';
  // Pieces of a later snapshot, like the snapshot itself, only carry the chain on.
  if (r.snapSeen >= r.snapParts) return null;
  if (h.part !== r.snapSeen) return `holds snapshot piece ${h.part}, expected piece ${r.snapSeen} of ${r.snapParts}`;
  writeAll(r.fd, obj.payload, h.offset ?? 0);
  r.snapSeen++;
  return null;
}

function applyWalObject(r: Rebuild, obj: ReplicaObject): string | null {
  if (r.prev === null) return 'the chain starts with WAL frames, not a snapshot';
  if (r.snapSeen < r.snapParts) return `WAL frames before the snapshot is whole: piece ${r.snapSeen} of ${r.snapParts} is missing`;
  const w = applyWal(r.pages, obj, r.prevWal, r.prev, r.t);
  if (typeof w === 'string') return w;
  if (w.applied > 0) {
    r.pageCount = w.pages;
    r.stateAt = w.lastAt;
    r.applied++;
  }
  if (w.stop) r.done = true;
  r.prevWal = obj;
  return null;
}

/** Fetches `plan.objects` in order, `ahead` at a time and at most PREFETCH_BYTES beyond the one being applied. */
function prefetcher(target: ReplicaTarget, plan: Plan, ahead: number): (i: number) => Promise<Buffer> {
  const fetches: Promise<Buffer>[] = [];
  return (i) => {
    let inFlight = 0;
    for (let j = i; j < i + ahead && j < plan.objects.length; j++) {
      inFlight += plan.objects[j].size;
      if (j > i && inFlight > PREFETCH_BYTES) break;
      if (!fetches[j]) {
        fetches[j] = getWithRetry(target, plan.objects[j].key);
        fetches[j].catch(() => undefined);
      }
    }
    const got = fetches[i];
    delete fetches[i];
    return got;
  };
}

/** Rebuilds one database from its planned chain into `<into>/<its path>`, verified, or throws naming what is broken. */
export async function restoreOne(
  target: ReplicaTarget,
  plan: Plan,
  opts: RestoreOptions,
  progress: { objectsDone: number; bytesDone: number },
  report: (phase: RestoreProgress['phase'], db?: string) => void,
): Promise<RestoredDatabase> {
  const dest = join(opts.into, pathForDbName(plan.db));
  mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
  const tmp = `${dest}.restoring`;
  const fd = openSync(tmp, 'w', 0o600);
  const r: Rebuild = { plan, fd, pages: new PageWriter(fd), t: opts.at?.getTime(), pageSize: 0, pageCount: 0, stateAt: 0, prev: null, prevWal: null, snapParts: 0, snapSeen: 0, applied: 0, done: false };
  const problems: ChainProblem[] = [];
  let bytes = 0;
  try {
    const fetch = prefetcher(target, plan, Math.max(1, opts.prefetch ?? 32));
    for (let i = 0; i < plan.objects.length && !r.done; i++) {
      const listed = plan.objects[i];
      let obj: ReplicaObject;
      try {
        obj = decodeObject(listed.key, await fetch(i));
      } catch (err) {
        if (!(err instanceof ObjectFormatError)) throw err;
        problems.push({ db: plan.db, key: listed.key, problem: err.message.replace(/^replica object \S+: /, '') });
        break;
      }
      const kind = obj.header.kind;
      const problem = linkProblem(r, listed, obj) ?? (kind === 'snapshot' ? applySnapshot(r, obj) : kind === 'part' ? applyPart(r, obj) : applyWalObject(r, obj));
      if (problem) {
        problems.push({ db: plan.db, key: listed.key, problem });
        break;
      }
      r.prev = obj;
      bytes += listed.size;
      progress.objectsDone++;
      progress.bytesDone += listed.size;
      report('fetch', plan.db);
    }
    if (problems.length === 0 && r.snapSeen < r.snapParts) {
      problems.push({ db: plan.db, key: objectKey('', plan.db, plan.generation, (r.prev?.header.index ?? 0) + 1, 'part'), problem: `missing: snapshot piece ${r.snapSeen} of ${r.snapParts} is not in the replica` });
    }
    if (problems.length > 0) throw new ReplicaCorruptError(problems);
    r.pages.flush();
    ftruncateSync(fd, r.pageCount * r.pageSize);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  report('verify', plan.db);
  const verified = await verifyRestored(plan.db, tmp, r.pageSize, r.pageCount, opts);
  for (const ext of ['-wal', '-shm']) rmSync(dest + ext, { force: true });
  renameSync(tmp, dest);
  fsyncDir(dest);
  // The latest state (no point in time): a follower may carry on from here.
  const tail: ChainTail | undefined = r.t === undefined && r.prev ? { db: plan.db, generation: plan.generation, index: r.prev.header.index, prev: r.prev, prevWal: r.prevWal, pageSize: r.pageSize, pageCount: r.pageCount, snapParts: r.snapParts, snapSeen: r.snapSeen } : undefined;
  return { db: plan.db, path: dest, generation: plan.generation, objects: r.applied, bytes, pages: r.pageCount, pageSize: r.pageSize, stateAt: r.stateAt, verified, tail };
}

/**
 * Applies the objects after `tail` (the same generation, in chain order)
 * onto `file`, which holds the state at `tail`. Every object is fetched and
 * checked (its place in the chain, its link to the one before, the WAL's
 * frame checksums) before a byte is written, so a fetch or a broken link
 * leaves the file as it was: the caller tries again or restores afresh.
 * Nothing may have the file open. Returns the new end.
 */
export async function applyIncrement(target: ReplicaTarget, file: string, tail: ChainTail, links: readonly ListedLink[]): Promise<{ tail: ChainTail; applied: number; bytes: number }> {
  const plan: Plan = { db: tail.db, generation: tail.generation, objects: [...links] };
  const fetch = prefetcher(target, plan, 32);
  const objects: ReplicaObject[] = [];
  let bytes = 0;
  for (let i = 0; i < links.length; i++) {
    objects.push(decodeObject(links[i].key, await fetch(i)));
    bytes += links[i].size;
  }
  const fd = openSync(file, 'r+');
  try {
    const r: Rebuild = { plan, fd, pages: new PageWriter(fd), t: undefined, pageSize: tail.pageSize, pageCount: tail.pageCount, stateAt: 0, prev: tail.prev, prevWal: tail.prevWal, snapParts: tail.snapParts, snapSeen: tail.snapSeen, applied: 0, done: false };
    for (let i = 0; i < objects.length; i++) {
      const obj = objects[i];
      const kind = obj.header.kind;
      // Checked before applying: the PageWriter holds every page until the flush below.
      const problem = linkProblem(r, links[i], obj) ?? (kind === 'snapshot' ? applySnapshot(r, obj) : kind === 'part' ? applyPart(r, obj) : applyWalObject(r, obj));
      if (problem) throw new ReplicaCorruptError([{ db: plan.db, key: links[i].key, problem }]);
      r.prev = obj;
    }
    r.pages.flush();
    ftruncateSync(fd, r.pageCount * r.pageSize);
    fsyncSync(fd);
    return { tail: { ...tail, index: r.prev!.header.index, prev: r.prev!, prevWal: r.prevWal, pageSize: r.pageSize, pageCount: r.pageCount, snapParts: r.snapParts, snapSeen: r.snapSeen }, applied: r.applied, bytes };
  } finally {
    closeSync(fd);
  }
}

/** Checks one WAL object's frames and writes the commits up to `t` into the file. */
function applyWal(out: PageWriter, obj: ReplicaObject, prevWal: ReplicaObject | null, prev: ReplicaObject, t: number | undefined): string | { applied: number; pages: number; lastAt: number; stop: boolean } {
  const h = obj.header;
  const hdr = parseWalHeader(Buffer.from(h.walHeader ?? '', 'hex'));
  if (!hdr) return 'its WAL header is not valid';
  if (hdr.pageSize !== h.pageSize) return `page size ${hdr.pageSize} differs from ${h.pageSize}`;
  if (h.walOffset === WAL_HEADER_SIZE) {
    if (h.walSeed?.[0] !== hdr.cksum[0] || h.walSeed?.[1] !== hdr.cksum[1]) return 'the first frames do not start from their WAL header';
  } else {
    // Frames continuing an epoch must follow the previous object's frames exactly.
    const p = prevWal?.header;
    if (!p || prev.header.kind !== 'wal' || p.walHeader !== h.walHeader) return 'continues a WAL epoch whose start is not in the chain';
    if (p.walOffset! + p.payloadLength !== h.walOffset) return `starts at WAL offset ${h.walOffset}, previous ended at ${p.walOffset! + p.payloadLength} (a gap)`;
    if (p.walEnd?.[0] !== h.walSeed?.[0] || p.walEnd?.[1] !== h.walSeed?.[1]) return 'its first frame does not continue the previous frames (checksum chain broken)';
  }
  const scan = scanFrames(hdr, obj.payload, h.walSeed as [number, number]);
  const frameSize = FRAME_HEADER_SIZE + hdr.pageSize;
  if (scan.end !== obj.payload.length) return `frame ${scan.frames.length} fails the WAL ${scan.stopped ?? 'commit'} check`;
  let from = 0;
  let applied = 0;
  let pages = 0;
  let lastAt = 0;
  for (const c of h.commits ?? []) {
    if (t !== undefined && c.at > t) return { applied, pages, lastAt, stop: true };
    for (let i = from; i <= c.frame; i++) {
      const off = i * frameSize;
      out.page(obj.payload.readUInt32BE(off), obj.payload.subarray(off + FRAME_HEADER_SIZE, off + frameSize), hdr.pageSize);
    }
    from = c.frame + 1;
    applied++;
    pages = c.pages;
    lastAt = c.at;
  }
  out.applied(obj.payload.length);
  return { applied, pages, lastAt, stop: false };
}

/** Objects' bytes whose pages may be held before they are written (the pages are views into them). */
const PENDING_BYTES = 32 << 20;

/**
 * Collects replayed WAL pages and writes them in page order, runs of
 * adjacent pages in one positioned writev. A long WAL history rewrites the
 * same pages over and over (page 1, b-tree roots, the freelist): only the
 * newest copy is written, and thousands of 4 KiB writes become a few large
 * ones. Pages are applied in chain order, so a later copy replacing an
 * earlier one is the WAL's own rule. Pages are views into fetched objects;
 * flushing every PENDING_BYTES of objects bounds what they keep alive.
 */
class PageWriter {
  private pending = new Map<number, Buffer>();
  private pageSize = 0;
  private since = 0;

  constructor(private readonly fd: number) {}

  page(pgno: number, data: Buffer, pageSize: number): void {
    if (this.pageSize !== pageSize && this.pending.size > 0) this.flush();
    this.pageSize = pageSize;
    this.pending.set(pgno, data);
  }

  applied(bytes: number): void {
    this.since += bytes;
    if (this.since >= PENDING_BYTES) this.flush();
  }

  flush(): void {
    const pgnos = [...this.pending.keys()].sort((a, b) => a - b);
    for (let i = 0; i < pgnos.length; ) {
      // A run of consecutive pages, at most IOV_MAX (1024) buffers per call.
      let j = i + 1;
      while (j < pgnos.length && pgnos[j] === pgnos[j - 1] + 1 && j - i < 1024) j++;
      const bufs = pgnos.slice(i, j).map((p) => this.pending.get(p)!);
      const position = (pgnos[i] - 1) * this.pageSize;
      const want = bufs.reduce((n, b) => n + b.length, 0);
      const wrote = writevSync(this.fd, bufs, position);
      if (wrote < want) writeAll(this.fd, Buffer.concat(bufs).subarray(wrote), position + wrote);
      i = j;
    }
    this.pending.clear();
    this.since = 0;
  }
}

/**
 * Object stores answer 500 and 503 now and then (S3's SlowDown, a busy
 * MinIO); a restore of thousands of objects must not fail on one of them.
 * A missing object is not retried: it is a finding, not a hiccup.
 */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const e = err as { name?: string; code?: string };
      if (i >= attempts || e.name === 'NoSuchKey' || e.code === 'ENOENT') throw err;
      await new Promise((r) => setTimeout(r, backoffMs(i, 100, 5_000)));
    }
  }
}

function getWithRetry(target: ReplicaTarget, key: string): Promise<Buffer> {
  return withRetry(() => target.get(key));
}


export function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

