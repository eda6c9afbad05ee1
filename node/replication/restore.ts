/**
 * @module node/replication/restore
 * Restoring databases from the replica: plan from one flat listing, fetch
 * each database's chain from its newest usable snapshot, check every link
 * (object checksum, place in the chain, the WAL's own frame checksums), and
 * rebuild the file by writing each committed frame's page into the snapshot
 * — byte for byte, no key needed, which is what lets a zero-access mailbox
 * be restored by a server that cannot read it. Then verify: databases whose
 * key we hold are opened and pass `PRAGMA integrity_check`; the others are
 * checked for SQLite's page structure (plain header fields, size = pages).
 */
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unwrapKey } from '../crypto/index.js';
import { closeDb, openEncrypted } from '../store/db.js';
import { Directory } from '../store/directory/directory.js';
import type { Logger } from '../util/log.js';
import { NothingToRestoreError, ReplicaCorruptError, RestoreRefusedError, RestoreVerifyError, type ChainProblem } from './errors.js';
import { databaseFiles } from '../store/layout.js';
import { groupListing, type ListedLink } from './listing.js';
import { ObjectFormatError, decodeObject, objectKey, parseKey, pathForDbName, type ReplicaObject } from './object.js';
import { openTarget, type ReplicaTarget } from './target.js';
import { FRAME_HEADER_SIZE, WAL_HEADER_SIZE, dbHeaderInfo, parseWalHeader, scanFrames, walChecksum } from './wal.js';
import { fsyncDir } from '../util/fsync.js';
import { backoffMs } from '../util/backoff.js';
import { readAt, readFd } from '../util/read-at.js';

export interface RestoreProgress {
  phase: 'plan' | 'fetch' | 'verify' | 'done';
  db?: string;
  objectsDone: number;
  objectsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
  /** Estimated time left, from the throughput so far; null until something was fetched. */
  etaMs: number | null;
}

export interface RestoreOptions {
  /** A replica URL or an open target. */
  target: string | ReplicaTarget;
  /** Directory to restore into (a data directory layout). */
  into: string;
  /** One database: 'directory', 'spool' or an account id. Default: the whole node. */
  only?: string;
  /** Point in time; default: the latest state in the replica. */
  at?: Date;
  /** Overwrite existing databases in `into`. */
  force?: boolean;
  /** Verifies directory and spool (and managed-mode mailboxes) by opening them. */
  masterKey?: Buffer;
  /** Keys for mailboxes (account id → key), e.g. unwrapped with a recovery key. */
  mailboxKeys?: Record<string, Buffer>;
  onProgress?: (p: RestoreProgress) => void;
  log?: Logger;
  /** Objects fetched ahead of the one being applied (default 32; also bounded by bytes). */
  prefetch?: number;
  /** Databases restored at once after the directory (default 4). */
  concurrency?: number;
}

export interface RestoredDatabase {
  db: string;
  path: string;
  generation: string;
  objects: number;
  bytes: number;
  pages: number;
  pageSize: number;
  /** Time of the last commit restored (or the snapshot's time). */
  stateAt: number;
  verified: 'integrity_check' | 'structure';
}

export interface RestoreResult {
  databases: RestoredDatabase[];
  /** Databases in the replica that did not exist yet at `at`. */
  skipped: string[];
  bytes: number;
  ms: number;
}

/** Bytes fetched ahead per database being restored (a 1 GB server restores several at once). */
const PREFETCH_BYTES = 48 << 20;

type Listed = ListedLink;

interface Plan {
  db: string;
  generation: string;
  objects: Listed[];
}

/** Plans, fetches, checks, rebuilds and verifies. Throws ReplicaCorruptError naming every broken link it found. */
export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const target = typeof opts.target === 'string' ? openTarget(opts.target) : opts.target;
  try {
    const listing = await withRetry(() => target.list());
    const { plans, skipped, problems } = planRestore(listing, opts.only, opts.at);
    if (problems.length > 0) throw new ReplicaCorruptError(problems);
    if (plans.length === 0) {
      throw new NothingToRestoreError(
        opts.only
          ? `the replica ${target.description} holds nothing for ${opts.only}${opts.at ? ` at ${opts.at.toISOString()}` : ''}; check the id with \`haven account list\` or pick a later --at`
          : `the replica ${target.description} is empty${opts.at ? ` before ${opts.at.toISOString()}` : ''}; check HAVEN_REPLICA_URL`,
      );
    }
    if (!opts.force) {
      const clash = plans.map((p) => join(opts.into, pathForDbName(p.db))).filter((f) => existsSync(f));
      if (clash.length > 0) {
        throw new RestoreRefusedError(`${clash.length} database(s) already exist in ${opts.into} (e.g. ${clash[0]}); restore elsewhere, or stop the node and pass --force to overwrite`);
      }
    }
    const bytesTotal = plans.reduce((n, p) => n + p.objects.reduce((m, o) => m + o.size, 0), 0);
    const objectsTotal = plans.reduce((n, p) => n + p.objects.length, 0);
    const progress = { objectsDone: 0, bytesDone: 0 };
    const report = (phase: RestoreProgress['phase'], db?: string) => {
      if (!opts.onProgress) return;
      const elapsedMs = Date.now() - started;
      const rate = progress.bytesDone > 0 ? progress.bytesDone / Math.max(1, elapsedMs) : 0;
      opts.onProgress({ phase, db, objectsTotal, bytesTotal, ...progress, elapsedMs, etaMs: rate > 0 ? Math.round((bytesTotal - progress.bytesDone) / rate) : null });
    };
    report('plan');
    // Everything lands in a staging directory first and moves into place only when every database
    // is restored and checked, the directory last: a restore cut short changes nothing (and leaves
    // an empty data directory empty, so a rebuilt node's next boot restores again).
    const stage = join(opts.into, '.restore-staging');
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(join(stage, 'mailboxes'), { recursive: true, mode: 0o700 });
    const staged: RestoreOptions & { liveDir: string } = { ...opts, into: stage, liveDir: opts.into };
    const out: RestoredDatabase[] = [];
    try {
      // The directory first: managed-mode mailboxes are verified with keys it holds.
      plans.sort((a, b) => (a.db === 'directory' ? -1 : b.db === 'directory' ? 1 : a.db < b.db ? -1 : 1));
      const [first, ...others] = plans;
      if (first.db === 'directory') out.push(await restoreOne(target, first, staged, progress, report));
      else others.unshift(first);
      // The rest side by side: one database's chain is fetched in order, so parallel databases are what fill the pipe.
      let next = 0;
      let failed: unknown = null;
      const worker = async () => {
        while (failed === null && next < others.length) {
          const plan = others[next++];
          try {
            out.push(await restoreOne(target, plan, staged, progress, report));
          } catch (err) {
            failed ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
      if (failed !== null) throw failed;
      out.sort((a, b) => (a.db === 'directory' ? -1 : b.db === 'directory' ? 1 : a.db < b.db ? -1 : 1));
    } catch (err) {
      rmSync(stage, { recursive: true, force: true });
      throw err;
    }
    mkdirSync(join(opts.into, 'mailboxes'), { recursive: true, mode: 0o700 });
    for (const d of [...out].sort((a, b) => (a.db === 'directory' ? 1 : b.db === 'directory' ? -1 : 0))) {
      const dest = join(opts.into, pathForDbName(d.db));
      for (const ext of ['-wal', '-shm']) rmSync(dest + ext, { force: true });
      renameSync(d.path, dest);
      fsyncDir(dest);
      d.path = dest;
    }
    rmSync(stage, { recursive: true, force: true });
    // A restored data directory starts new generations: drop replication state left there.
    if (opts.force && !opts.only) rmSync(join(opts.into, '.replication'), { recursive: true, force: true });
    report('done');
    return { databases: out, skipped, bytes: progress.bytesDone, ms: Date.now() - started };
  } finally {
    if (typeof opts.target === 'string') target.close();
  }
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

async function restoreOne(
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
async function withRetry<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
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


function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

async function verifyRestored(db: string, file: string, pageSize: number, pages: number, opts: RestoreOptions): Promise<'integrity_check' | 'structure'> {
  const key = await keyFor(db, opts);
  if (key) {
    let conn;
    try {
      conn = openEncrypted(file, key, { readonly: true, create: false });
    } catch (err) {
      throw new RestoreVerifyError(db, `it does not open with its key (${(err as Error).message})`);
    }
    try {
      const r = conn.pragma('integrity_check', { simple: true });
      if (r !== 'ok') throw new RestoreVerifyError(db, `PRAGMA integrity_check says ${String(r)}`);
    } finally {
      conn.close();
    }
    return 'integrity_check';
  }
  const head = readAt(file, 0, 100);
  const info = dbHeaderInfo(head);
  if (!info) throw new RestoreVerifyError(db, 'page 1 does not carry an SQLite header');
  if (info.pageSize !== pageSize) throw new RestoreVerifyError(db, `header page size ${info.pageSize} differs from the replica's ${pageSize}`);
  if (pages < 1) throw new RestoreVerifyError(db, 'no pages');
  return 'structure';
}

async function keyFor(db: string, opts: RestoreOptions): Promise<Buffer | null> {
  if (db === 'directory' || db === 'spool') return opts.masterKey ?? null;
  const accountId = db.slice('mailbox-'.length);
  const given = opts.mailboxKeys?.[accountId];
  if (given) return given;
  if (!opts.masterKey) return null;
  // The directory restored alongside (staging), else the one already there (restoring one mailbox).
  const live = (opts as { liveDir?: string }).liveDir;
  const dirPath = [join(opts.into, 'directory.sqlite'), ...(live ? [join(live, 'directory.sqlite')] : [])].find((p) => existsSync(p)) ?? join(opts.into, 'directory.sqlite');
  if (!existsSync(dirPath)) return null;
  // Managed-mode accounts hold a copy of their key wrapped with the master key.
  const conn = openEncrypted(dirPath, opts.masterKey, { readonly: true, create: false });
  try {
    const w = new Directory(dirPath, conn).wraps(accountId).find((x) => x.kind === 'master');
    return w ? await unwrapKey(w.wrapped, opts.masterKey) : null;
  } finally {
    conn.close();
  }
}

// ------------------------------------------------------------------ verify

export interface VerifyOptions {
  target: string | ReplicaTarget;
  dataDir: string;
  masterKey: Buffer;
  mailboxKeys?: Record<string, Buffer>;
  /** Where to restore; default a fresh temporary directory, removed afterwards. */
  scratch?: string;
  /** A running replication: flushed first so the replica is as new as the live files. */
  replication?: { flush(timeoutMs?: number): Promise<void> };
  onProgress?: (p: RestoreProgress) => void;
  /** Databases larger than this are compared by page count and integrity, not page by page (default 64 MiB). */
  plainCompareMaxBytes?: number;
}

export interface VerifyEntry {
  db: string;
  result: 'same' | 'differs' | 'missing-in-replica' | 'missing-live' | 'pages-match';
  detail?: string;
}

export interface VerifyReport {
  ok: boolean;
  databases: VerifyEntry[];
  restore: RestoreResult;
}

/**
 * Restores the latest state of every database into a scratch directory and
 * compares it with the live one: page by page on the decrypted pages where
 * the key is known (ciphertext differs after every checkpoint, plaintext
 * must not), page counts where it is not.
 */
export async function verifyBackup(opts: VerifyOptions): Promise<VerifyReport> {
  await opts.replication?.flush();
  const scratch = opts.scratch ?? mkdtempSync(join(tmpdir(), 'haven-verify-'));
  try {
    const r = await restore({ target: opts.target, into: scratch, masterKey: opts.masterKey, mailboxKeys: opts.mailboxKeys, onProgress: opts.onProgress, force: true });
    const entries: VerifyEntry[] = [];
    const live = liveDatabases(opts.dataDir);
    const restored = new Map(r.databases.map((d) => [d.db, d]));
    for (const name of live) if (!restored.has(name)) entries.push({ db: name, result: 'missing-in-replica', detail: 'the live database has no copy in the replica; is replication running?' });
    for (const d of r.databases) {
      const livePath = join(opts.dataDir, pathForDbName(d.db));
      if (!existsSync(livePath)) {
        entries.push({ db: d.db, result: 'missing-live', detail: 'in the replica but not in the live data directory (a removed account?)' });
        continue;
      }
      // The live state is the file plus its committed WAL frames; build it as a copy so the live files are never opened.
      const image = join(scratch, `${pathForDbName(d.db).replace('/', '-')}.live`);
      const livePages = liveImage(livePath, image);
      const key = await keyFor(d.db, { ...opts, into: scratch, target: opts.target });
      if (!key) {
        entries.push(livePages === d.pages ? { db: d.db, result: 'pages-match' } : { db: d.db, result: 'differs', detail: `live has ${livePages} pages, replica ${d.pages}` });
        continue;
      }
      if (statSync(image).size > (opts.plainCompareMaxBytes ?? PLAIN_COMPARE_MAX_BYTES)) {
        // Both sides passed integrity_check (the restore checks its copy; the image is checked here).
        const ok = livePages === d.pages && integrityOk(image, key);
        entries.push(ok ? { db: d.db, result: 'pages-match', detail: 'large: page counts and integrity compared' } : { db: d.db, result: 'differs', detail: `live has ${livePages} pages, replica ${d.pages}` });
        continue;
      }
      const diff = comparePlain(image, d.path, key);
      entries.push(diff === null ? { db: d.db, result: 'same' } : { db: d.db, result: 'differs', detail: diff });
    }
    return { ok: entries.every((e) => e.result === 'same' || e.result === 'pages-match'), databases: entries, restore: r };
  } finally {
    if (!opts.scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

function liveDatabases(dataDir: string): string[] {
  return databaseFiles(dataDir).map((f) => f.name);
}

/**
 * Copies a live database with its committed WAL frames applied; returns its
 * page count. Streams: the file is copied by the kernel and the WAL read in
 * chunks, so a database of gigabytes is never in memory (only the frames of
 * one transaction until its commit frame is seen).
 */
export function liveImage(path: string, out: string): number {
  copyFileSync(path, out);
  chmodSync(out, 0o600);
  const info = dbHeaderInfo(readAt(out, 0, 100));
  const pageSize = info?.pageSize ?? 4096;
  let pages = Math.floor(statSync(out).size / pageSize);
  const walPath = `${path}-wal`;
  if (!existsSync(walPath)) return pages;
  const wfd = openSync(walPath, 'r');
  const fd = openSync(out, 'r+');
  try {
    const hdr = parseWalHeader(readFd(wfd, 0, WAL_HEADER_SIZE));
    if (hdr) {
      const frameSize = FRAME_HEADER_SIZE + hdr.pageSize;
      const chunk = Math.max(1, Math.floor((4 << 20) / frameSize)) * frameSize;
      let seed = hdr.cksum;
      let pending: { pgno: number; data: Buffer }[] = [];
      let off = WAL_HEADER_SIZE;
      scan: for (;;) {
        const buf = readFd(wfd, off, chunk);
        if (buf.length < frameSize) break;
        for (let o = 0; o + frameSize <= buf.length; o += frameSize) {
          // The same checks as SQLite's recovery (see scanFrames): a frame that fails ends the log.
          if (buf.readUInt32BE(o + 8) !== hdr.salt1 || buf.readUInt32BE(o + 12) !== hdr.salt2) break scan;
          let c = walChecksum(hdr.bigEndian, buf.subarray(o, o + 8), seed);
          c = walChecksum(hdr.bigEndian, buf.subarray(o + FRAME_HEADER_SIZE, o + frameSize), c);
          if (c[0] !== buf.readUInt32BE(o + 16) || c[1] !== buf.readUInt32BE(o + 20)) break scan;
          seed = c;
          pending.push({ pgno: buf.readUInt32BE(o), data: buf.subarray(o + FRAME_HEADER_SIZE, o + frameSize) });
          const commit = buf.readUInt32BE(o + 4);
          if (commit !== 0) {
            for (const f of pending) writeAll(fd, f.data, (f.pgno - 1) * hdr.pageSize);
            pending = [];
            pages = commit;
          }
        }
        off += buf.length - (buf.length % frameSize);
      }
    }
    ftruncateSync(fd, pages * pageSize);
  } finally {
    closeSync(fd);
    closeSync(wfd);
  }
  return pages;
}

/** Larger databases are compared by page count: serializing both would hold them in memory whole. */
const PLAIN_COMPARE_MAX_BYTES = 64 << 20;

function integrityOk(file: string, key: Buffer): boolean {
  const c = openEncrypted(file, key, { readonly: true, create: false });
  try {
    return c.pragma('integrity_check', { simple: true }) === 'ok';
  } finally {
    closeDb(file, c);
  }
}

/** Compares two databases' decrypted pages, ignoring the reserved bytes (nonce and tag differ per write). */
function comparePlain(a: string, b: string, key: Buffer): string | null {
  const ca = openEncrypted(a, key, { readonly: true, create: false });
  const cb = openEncrypted(b, key, { readonly: true, create: false });
  try {
    const pa = ca.serialize();
    const pb = cb.serialize();
    const info = dbHeaderInfo(pa);
    if (!info) return 'page 1 has no SQLite header';
    if (pa.length !== pb.length) return `live has ${pa.length / info.pageSize} pages, replica ${pb.length / info.pageSize}`;
    const usable = info.pageSize - info.reserved;
    const differing: number[] = [];
    for (let p = 0; p * info.pageSize < pa.length; p++) {
      const off = p * info.pageSize;
      if (!pa.subarray(off, off + usable).equals(pb.subarray(off, off + usable))) differing.push(p + 1);
    }
    return differing.length === 0 ? null : `${differing.length} page(s) differ (first: ${differing.slice(0, 5).join(', ')})`;
  } finally {
    closeDb(a, ca);
    closeDb(b, cb);
  }
}

// ------------------------------------------------------------------ first boot

export interface RestoreIfEmptyOptions {
  url: string;
  dataDir: string;
  /** Null when not configured: fine for an empty replica, an error (missingKey) for a full one. */
  masterKey: Buffer | null;
  missingKey?: () => Error;
  log: Logger;
  onProgress?: (p: RestoreProgress) => void;
}

/**
 * First boot of a rebuilt server: an empty data directory and a configured
 * replica mean "restore before any listener opens". Returns what happened.
 */
export async function restoreIfEmpty(opts: RestoreIfEmptyOptions): Promise<{ restored: false; reason: 'not-empty' | 'replica-empty' } | { restored: true; result: RestoreResult }> {
  if (existsSync(join(opts.dataDir, 'directory.sqlite'))) return { restored: false, reason: 'not-empty' };
  const target = openTarget(opts.url);
  try {
    const listing = await withRetry(() => target.list());
    if (!listing.some((o) => parseKey(o.key))) {
      opts.log.info({ target: target.description }, 'replication: empty data directory and an empty replica; starting fresh');
      return { restored: false, reason: 'replica-empty' };
    }
    if (!opts.masterKey) throw opts.missingKey?.() ?? new NothingToRestoreError('the replica holds a node but no master key was given to restore it with');
    opts.log.info({ target: target.description, dataDir: opts.dataDir }, 'replication: empty data directory; restoring from the replica before serving');
    // restore() stages and moves the directory in last: a restore cut short leaves no
    // directory.sqlite, so the next boot restores again instead of serving with mailboxes missing.
    const result = await restore({ target, into: opts.dataDir, masterKey: opts.masterKey, onProgress: opts.onProgress, log: opts.log, force: true });
    opts.log.info({ databases: result.databases.length, bytes: result.bytes, ms: result.ms }, 'replication: restored from the replica');
    return { restored: true, result };
  } finally {
    target.close();
  }
}
