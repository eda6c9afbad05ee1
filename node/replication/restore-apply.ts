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
import type { Plan } from './restore-plan.js';
import { verifyRestored } from './restore-verify.js';
import type { ReplicaTarget } from './target.js';
import { FRAME_HEADER_SIZE, WAL_HEADER_SIZE, parseWalHeader, scanFrames } from './wal.js';
import { backoffMs } from '../util/backoff.js';
import { fsyncDir } from '../util/fsync.js';

const PREFETCH_BYTES = 48 << 20;

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
  const t = opts.at?.getTime();
  const problems: ChainProblem[] = [];
  let pageSize = 0;
  let pages = 0;
  let stateAt = 0;
  let prev: ReplicaObject | null = null;
  let prevWal: ReplicaObject | null = null;
  /** Pieces of the starting snapshot: how many it has, how many are written. */
  let snapParts = 0;
  let snapSeen = 0;
  let applied = 0;
  let bytes = 0;
  let done = false;
  const pageWriter = new PageWriter(fd);
  try {
    const ahead = Math.max(1, opts.prefetch ?? 32);
    const fetches: Promise<Buffer>[] = [];
    const fetchAt = (i: number) => {
      if (i < plan.objects.length && !fetches[i]) {
        fetches[i] = getWithRetry(target, plan.objects[i].key);
        fetches[i].catch(() => undefined);
      }
    };
    for (let i = 0; i < plan.objects.length && !done; i++) {
      // Ahead by count and by bytes, so a chain of large snapshot pieces stays within PREFETCH_BYTES.
      let inFlight = 0;
      for (let j = i; j < i + ahead && j < plan.objects.length; j++) {
        inFlight += plan.objects[j].size;
        if (j > i && inFlight > PREFETCH_BYTES) break;
        fetchAt(j);
      }
      const listed = plan.objects[i];
      let obj: ReplicaObject;
      try {
        obj = decodeObject(listed.key, await fetches[i]);
      } catch (err) {
        if (err instanceof ObjectFormatError) {
          problems.push({ db: plan.db, key: listed.key, problem: err.message.replace(/^replica object \S+: /, '') });
          break;
        }
        throw err;
      }
      delete fetches[i];
      const h = obj.header;
      const linkProblem =
        h.db !== plan.db || h.generation !== plan.generation
          ? `belongs to ${h.db}/${h.generation}, not here (moved or replaced object)`
          : h.index !== listed.index || h.kind !== listed.kind
            ? `holds object ${h.index} (${h.kind}) but is stored as ${listed.index} (${listed.kind}): reordered`
            : prev && h.prev !== prev.checksum
              ? `does not follow object ${prev.header.index}: its previous-checksum differs (an object was replaced or reordered)`
              : null;
      if (linkProblem) {
        problems.push({ db: plan.db, key: listed.key, problem: linkProblem });
        break;
      }
      if (h.kind === 'snapshot') {
        if (prev === null && t !== undefined && h.createdAt > t) {
          throw new RestoreRefusedError(
            `${plan.db}: the oldest history kept for generation ${plan.generation} starts at ${new Date(h.createdAt).toISOString()}, after the requested ${new Date(t).toISOString()} (pruned by retention); pick a later --at`,
          );
        }
        if (prev === null) {
          pageSize = h.pageSize;
          writeAll(fd, obj.payload, h.offset ?? 0);
          pages = h.pages ?? Math.floor(obj.payload.length / pageSize);
          stateAt = h.createdAt;
          snapParts = h.parts ?? 1;
          snapSeen = 1;
          applied++;
        }
        // A later snapshot in the chain equals the state we have rebuilt; it only carries the chain on.
      } else if (h.kind === 'part') {
        if (prev === null) {
          problems.push({ db: plan.db, key: listed.key, problem: 'the chain starts with a piece of a snapshot, not the snapshot itself' });
          break;
        }
        if (snapSeen < snapParts) {
          if (h.part !== snapSeen) {
            problems.push({ db: plan.db, key: listed.key, problem: `holds snapshot piece ${h.part}, expected piece ${snapSeen} of ${snapParts}` });
            break;
          }
          writeAll(fd, obj.payload, h.offset ?? 0);
          snapSeen++;
        }
        // Pieces of a later snapshot, like the snapshot itself, only carry the chain on.
      } else {
        if (prev === null) {
          problems.push({ db: plan.db, key: listed.key, problem: 'the chain starts with WAL frames, not a snapshot' });
          break;
        }
        if (snapSeen < snapParts) {
          problems.push({ db: plan.db, key: listed.key, problem: `WAL frames before the snapshot is whole: piece ${snapSeen} of ${snapParts} is missing` });
          break;
        }
        const walProblem = applyWal(pageWriter, obj, prevWal, prev, t);
        if (typeof walProblem === 'string') {
          problems.push({ db: plan.db, key: listed.key, problem: walProblem });
          break;
        }
        if (walProblem.applied > 0) {
          pages = walProblem.pages;
          stateAt = walProblem.lastAt;
          applied++;
        }
        if (walProblem.stop) done = true;
        prevWal = obj;
      }
      prev = obj;
      bytes += listed.size;
      progress.objectsDone++;
      progress.bytesDone += listed.size;
      report('fetch', plan.db);
    }
    if (problems.length === 0 && snapSeen < snapParts) {
      problems.push({ db: plan.db, key: objectKey('', plan.db, plan.generation, (prev?.header.index ?? 0) + 1, 'part'), problem: `missing: snapshot piece ${snapSeen} of ${snapParts} is not in the replica` });
    }
    if (problems.length > 0) throw new ReplicaCorruptError(problems);
    pageWriter.flush();
    ftruncateSync(fd, pages * pageSize);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  report('verify', plan.db);
  const verified = await verifyRestored(plan.db, tmp, pageSize, pages, opts);
  for (const ext of ['-wal', '-shm']) rmSync(dest + ext, { force: true });
  renameSync(tmp, dest);
  fsyncDir(dest);
  return { db: plan.db, path: dest, generation: plan.generation, objects: applied, bytes, pages, pageSize, stateAt, verified };
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

