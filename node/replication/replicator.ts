/**
 * @module node/replication/replicator
 * Continuous replication of every database in the node, the way Litestream
 * does it but in-process (Litestream cannot open SQLite3MultipleCiphers
 * files). Registered as a DbObserver, it:
 *
 * - turns off SQLite's automatic checkpoints, so WAL frames stay put until
 *   they are shipped;
 * - after commits, cuts the new committed frames out of the WAL (byte for
 *   byte; they are ciphertext) into chain objects and uploads them in order,
 *   one upload at a time per database, so batches form by themselves while
 *   an upload is in flight;
 * - checkpoints (TRUNCATE) only when every frame in the WAL is shipped —
 *   or, when the replica has been away long enough that the WAL passes its
 *   ceiling, after the unshipped objects are written durably to a local
 *   outbox (ciphertext only) that is uploaded first when the replica is back;
 * - starts a new generation (a snapshot of the database file at a
 *   checkpoint) whenever continuity is lost: no state, a WAL it did not see
 *   reset, a file replaced or restored; takes scheduled snapshots; prunes.
 *
 * Work is driven by commits only: a database nobody writes to costs nothing.
 * Closing a database spills its unshipped objects to the outbox first,
 * because SQLite checkpoints and deletes the WAL on close.
 *
 * Local state (`<dataDir>/.replication/`): per database the last durable
 * chain position (generation, index, checksum, WAL salt/offset/checksum, the
 * database file's stat after our last checkpoint), and the outbox.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { addDbObserver, type Db, type DbObserver } from '../store/db.js';
import { databaseFiles, replicationDir } from '../store/layout.js';
import { appended, began, checkpointed, continues, fromSaved, lost, readDiskFacts, RESET_POS, statOf, verified, type ChainHead, type WalPos } from './chain-state.js';
import { expiredKeys, groupListing } from './listing.js';
import { fileSize, loadSaved, save, Tracker, type Pending, type Persisted } from './tracker.js';
import { cutWal } from './cut.js';
import { keep, loadOutbox } from './outbox.js';
import { databaseStatuses, replicationStatus, type DatabaseStatus, type ReplicationStatus } from './status.js';
import { UploadPump } from './upload-pump.js';
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { dbNameForPath, pathForDbName, encodeObject, newGeneration, objectKey, type ObjectHeader, type ReplicaObject } from './object.js';
import type { ReplicaTarget } from './target.js';
import { readAt } from '../util/read-at.js';
import { committedWalEnd } from './wal.js';

export type { DatabaseStatus, ReplicationStatus } from './status.js';

export interface ReplicatorOptions {
  target: ReplicaTarget;
  dataDir: string;
  log: Logger;
  /** Checkpoint once this many shipped bytes sit in a WAL (default 4 MiB). */
  checkpointBytes?: number;
  /** Alarm (status + warning) when unshipped WAL bytes pass this (default 64 MiB). */
  walAlarmBytes?: number;
  /** Spill to the outbox and checkpoint when unshipped WAL bytes pass this (default 256 MiB). */
  walCeilingBytes?: number;
  /** A new snapshot after this long (default 24 h), taken at the next checkpoint of an active database. */
  snapshotIntervalMs?: number;
  /** ...or after this many WAL bytes since the last snapshot (default 256 MiB). */
  snapshotBytes?: number;
  /** Keep point-in-time history this long (default 7 days). */
  retentionMs?: number;
  /** How often retention runs (default 1 h; 0 disables). */
  retentionCheckMs?: number;
  /** Longest wait between upload attempts (default 30 s). */
  maxBackoffMs?: number;
  minBackoffMs?: number;
  /** Uploads in flight across all databases (default 8). */
  concurrency?: number;
  /** Largest WAL object payload (default 16 MiB). */
  maxObjectBytes?: number;
  /** Told the commit times an uploaded object carried (the lag benchmark measures commit-to-replica with it). */
  onShipped?: (commitTimes: number[], shippedAt: number) => void;
}

export class Replicator implements DbObserver {
  private readonly trackers = new Map<string, Tracker>();
  private readonly stateDir: string;
  private readonly outboxDir: string;
  private readonly o: Required<Omit<ReplicatorOptions, 'target' | 'dataDir' | 'log' | 'onShipped'>>;
  private readonly onShipped: ReplicatorOptions['onShipped'];
  private unregister: (() => void) | null = null;
  private stopped = false;
  private readonly pump: UploadPump;
  private readonly idleWaiters = new Set<() => void>();
  private retentionTimer: NodeJS.Timeout | null = null;
  private generationsStarted = 0;

  constructor(
    private readonly target: ReplicaTarget,
    private readonly dataDir: string,
    private readonly log: Logger,
    opts: Omit<ReplicatorOptions, 'target' | 'dataDir' | 'log'> = {},
  ) {
    this.o = {
      checkpointBytes: opts.checkpointBytes ?? 4 << 20,
      walAlarmBytes: opts.walAlarmBytes ?? 64 << 20,
      walCeilingBytes: opts.walCeilingBytes ?? 256 << 20,
      snapshotIntervalMs: opts.snapshotIntervalMs ?? 24 * 3600_000,
      snapshotBytes: opts.snapshotBytes ?? 256 << 20,
      retentionMs: opts.retentionMs ?? 7 * 24 * 3600_000,
      retentionCheckMs: opts.retentionCheckMs ?? 3600_000,
      maxBackoffMs: opts.maxBackoffMs ?? 30_000,
      minBackoffMs: opts.minBackoffMs ?? 100,
      concurrency: opts.concurrency ?? 8,
      maxObjectBytes: opts.maxObjectBytes ?? 16 << 20,
    };
    this.onShipped = opts.onShipped;
    this.pump = new UploadPump(target, this.o, log);
    this.stateDir = join(replicationDir(dataDir), 'state');
    this.outboxDir = join(replicationDir(dataDir), 'outbox');
  }

  /** Loads outbox objects left by an earlier run and starts observing databases. */
  start(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.outboxDir, { recursive: true, mode: 0o700 });
    for (const box of loadOutbox(this.outboxDir, this.log)) {
      const t = this.trackerFor(box.db, null);
      if (!t) continue;
      t.q.push(...box.pending);
      if (box.damaged) t.chain = lost(t.chain, 'outbox object unreadable');
      this.schedule(t);
    }
    this.unregister = addDbObserver(this);
    this.registerClosed();
    if (this.o.retentionCheckMs > 0) {
      this.retentionTimer = setInterval(() => {
        this.runRetention().catch((err) => this.log.warn({ err }, 'replication: retention failed; it will run again'));
      }, this.o.retentionCheckMs);
      this.retentionTimer.unref();
    }
  }

  /**
   * Every database file in the data directory is the replicator's from the
   * start, opened or not: a mailbox whose owner has not logged in since the
   * node started is never opened (zero-access), yet it must be in the
   * replica. One with no continuous chain (never shipped, or changed since)
   * and no WAL is shipped as a snapshot of the file as it lies, which is
   * consistent because nothing has it open; one with a WAL (open already,
   * or left by a crash) is decided by its open, as before.
   */
  private registerClosed(): void {
    for (const f of databaseFiles(this.dataDir)) {
      try {
        const t = this.trackerFor(f.name, f.path);
        if (!t || t.db || t.q.length > 0 || (t.chain.kind === 'chain' && continues(t.chain.head, readDiskFacts(t.path)))) continue;
        // Open in this process already (the directory, the spool) or left with a WAL by a crash: its open decides.
        if (existsSync(t.walPath)) continue;
        const size = fileSize(t.path);
        if (size === 0 || size % t.pageSize !== 0) continue;
        t.chain = began(newGeneration(), statOf(t.path));
        t.commits = [];
        this.persist(t, t.head);
        this.snapshot(t);
        this.generationsStarted++;
        this.log.info({ db: t.name, generation: t.head.generation }, 'replication: new generation for a closed database');
        this.schedule(t);
      } catch (err) {
        this.log.error({ err, db: f.name }, 'replication: could not register a closed database; it ships at its next open');
      }
    }
  }

  // ------------------------------------------------------------ observer

  opened(path: string, db: Db, _key: Buffer): void {
    try {
      const rel = relative(this.dataDir, path).split(sep).join('/');
      if (rel.startsWith('..')) return;
      const name = dbNameForPath(rel);
      if (!name) return;
      db.pragma('wal_autocheckpoint = 0');
      const t = this.trackerFor(name, path);
      if (!t) return;
      t.db = db;
      t.pageSize = db.pragma('page_size', { simple: true }) as number;
      t.chain = verified(t.chain, readDiskFacts(path));
      this.schedule(t);
    } catch (err) {
      reportUnexpected(err);
    }
  }

  committed(path: string, _db: Db): void {
    const t = this.trackers.get(path);
    if (!t || this.stopped) return;
    try {
      const end = committedEnd(t);
      t.commits.push({ end, at: Date.now() });
      const unshipped = end - t.pos.offset;
      if (unshipped > this.o.walAlarmBytes && !t.alarmed) {
        t.alarmed = true;
        this.log.warn({ db: t.name, unshippedBytes: unshipped }, 'replication: WAL is growing because the replica is not taking uploads; check the replica');
      }
      if (unshipped > this.o.walCeilingBytes) this.spillAndCheckpoint(t, 'WAL ceiling');
      this.schedule(t);
    } catch (err) {
      reportUnexpected(err);
    }
  }

  closing(path: string, db: Db): void {
    const t = this.trackers.get(path);
    if (!t || t.db !== db) return;
    try {
      // A database closed before its first upload (a new mailbox, a locked
      // one) would otherwise not reach the replica until it opens again.
      if (t.needsGeneration) this.startGeneration(t);
      // SQLite checkpoints and deletes the WAL on close: keep every frame it holds.
      if (!t.needsGeneration) this.spillAndCheckpoint(t, 'close');
    } catch (err) {
      t.chain = lost(t.chain, 'frames could not be kept at close');
      this.log.error({ err, db: t.name }, 'replication: could not keep unshipped frames at close; a new generation will start');
    } finally {
      t.db = null;
    }
  }

  // ------------------------------------------------------------ state

  private trackerFor(name: string, path: string | null): Tracker | null {
    const p = path ?? join(this.dataDir, pathForDbName(name));
    let t = this.trackers.get(p);
    if (t) return t;
    t = new Tracker(name, p);
    const st = this.loadState(name);
    if (st) {
      t.chain = fromSaved({ generation: st.generation, index: st.index, checksum: st.checksum, pos: st.pos, dbStat: st.dbStat });
      t.lastSnapshotAt = st.lastSnapshotAt;
      t.bytesSinceSnapshot = st.bytesSinceSnapshot;
      t.hadChain = st.index >= 0;
    }
    this.trackers.set(p, t);
    return t;
  }

  private loadState(name: string): Persisted | null {
    return loadSaved(this.stateDir, name);
  }

  private persist(t: Tracker, head: Pick<ChainHead, 'generation' | 'index' | 'checksum' | 'pos'>): void {
    save(this.stateDir, t, head);
  }

  // ------------------------------------------------------------ cutting

  /** Cuts committed frames past the shipped position into one object. Returns false when there was nothing. */
  private cut(t: Tracker): boolean {
    if (!t.db || !t.db.open || t.chain.kind !== 'chain') return false;
    const c = cutWal(t.name, t.chain.head, t.walPath, committedEnd(t), t.commits, this.o.maxObjectBytes);
    if (c.kind === 'lost') t.chain = lost(t.chain, c.why);
    if (c.kind !== 'object') return false;
    t.commits = t.commits.filter((x) => x.end > c.end);
    this.enqueue(t, c.object, c.pos, c.oldestAt);
    t.bytesSinceSnapshot += c.payloadBytes;
    return true;
  }

  private enqueue(t: Tracker, obj: ReplicaObject, pos: WalPos, oldestAt: number | null, source: Pending['source'] = null): void {
    const h = obj.header;
    t.chain = appended(t.chain, { generation: h.generation, index: h.index, checksum: obj.checksum, pos });
    t.q.push({
      header: h,
      checksum: obj.checksum,
      size: obj.bytes.length,
      bytes: source ? null : obj.bytes,
      source,
      key: objectKey('', t.name, h.generation, h.index, h.kind),
      after: { generation: h.generation, index: h.index, checksum: obj.checksum, pos },
      outbox: null,
      oldestAt,
    });
  }

  /** TRUNCATE checkpoint; true when the WAL is now empty. */
  private checkpoint(t: Tracker): boolean {
    if (!t.db || !t.db.open || t.db.inTransaction) return false;
    const r = t.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (r[0]?.busy) return false;
    t.chain = checkpointed(t.chain, statOf(t.path));
    t.commits = [];
    t.alarmed = false;
    return true;
  }

  /** Writes every object not yet in the replica to the outbox, then checkpoints. */
  private spillAndCheckpoint(t: Tracker, why: string): void {
    while (this.cut(t)) {
      /* cut everything committed */
    }
    if (t.needsGeneration) return;
    let wrote = 0;
    for (const p of t.q) {
      if (p.outbox) continue;
      keep(this.outboxDir, t.name, p, this.bytesOf(p));
      wrote++;
    }
    if (t.head.index >= 0) this.persist(t, t.head);
    if (wrote > 0) this.log.info({ db: t.name, objects: wrote, why }, 'replication: unshipped objects kept in the local outbox');
    if (fileSize(t.walPath) > 0 && this.checkpoint(t)) this.persist(t, t.head);
  }

  /** Checkpoints a fully shipped WAL, and takes a snapshot when one is due. */
  private maybeCheckpoint(t: Tracker): void {
    if (!t.db || !t.db.open || t.q.length > 0 || t.chain.kind !== 'chain' || t.chain.head.index < 0) return;
    const size = committedEnd(t);
    if (size !== t.chain.head.pos.offset) return; // frames not cut yet (or none)
    // Only a database that changed since its last snapshot needs another.
    const snapshotDue =
      t.forceSnapshot || (t.bytesSinceSnapshot > 0 && (Date.now() - t.lastSnapshotAt >= this.o.snapshotIntervalMs || t.bytesSinceSnapshot >= this.o.snapshotBytes));
    if (!snapshotDue && size < this.o.checkpointBytes) return;
    if (size > 0 && !this.checkpoint(t)) return;
    if (size === 0) t.chain = checkpointed(t.chain, statOf(t.path));
    this.persist(t, t.head);
    if (snapshotDue) {
      t.forceSnapshot = false;
      this.snapshot(t);
    }
  }

  /**
   * Snapshot of the database file, which must be fully checkpointed (empty
   * WAL): one object, or for a file larger than the object size a snapshot
   * object and `part` objects after it, each read here once for its checksum
   * and read again from the file when it is uploaded.
   */
  private snapshot(t: Tracker): void {
    const size = fileSize(t.path);
    const now = Date.now();
    const partBytes = Math.max(t.pageSize, Math.floor(this.o.maxObjectBytes / t.pageSize) * t.pageSize);
    const parts = Math.max(1, Math.ceil(size / partBytes));
    const pages = Math.floor(size / t.pageSize);
    const { generation } = t.head;
    let prev = t.head.checksum;
    let index = t.head.index + 1;
    for (let part = 0; part < parts; part++) {
      const offset = part * partBytes;
      const length = Math.max(0, Math.min(partBytes, size - offset));
      const header: ObjectHeader = {
        v: 1,
        db: t.name,
        generation,
        index,
        kind: part === 0 ? 'snapshot' : 'part',
        prev,
        createdAt: now,
        pageSize: t.pageSize,
        payloadLength: length,
        pages,
        part,
        parts,
        offset,
      };
      const obj = encodeObject(header, readAt(t.path, offset, length));
      this.enqueue(t, obj, RESET_POS, null, parts > 1 ? { path: t.path, offset, length } : null);
      prev = obj.checksum;
      index++;
    }
    t.lastSnapshotAt = now;
    t.bytesSinceSnapshot = 0;
  }

  /** The encoded bytes of a waiting object, from memory, the outbox or (a snapshot piece) the database file. */
  private bytesOf(p: Pending): Buffer {
    if (p.bytes) return p.bytes;
    if (p.outbox) return readFileSync(p.outbox);
    const src = p.source!;
    const obj = encodeObject(p.header, readAt(src.path, src.offset, src.length));
    if (obj.checksum !== p.checksum) throw new Error(`the database file changed at offset ${src.offset}`);
    return obj.bytes;
  }

  private startGeneration(t: Tracker): boolean {
    if (!t.db || !t.db.open || t.db.inTransaction) return false;
    // Objects of the old chain that never left memory cannot be placed any more.
    t.q = t.q.filter((p) => p.outbox !== null);
    const r = t.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (r[0]?.busy) return false;
    const why = t.chain.kind === 'broken' ? t.chain.why : 'no chain yet';
    t.chain = began(newGeneration(), statOf(t.path));
    t.commits = [];
    // Until snapshot 0 is durable, a restart must start yet another generation.
    this.persist(t, t.head);
    this.snapshot(t);
    this.generationsStarted++;
    this.log.info({ db: t.name, generation: t.head.generation, why }, 'replication: new generation');
    return true;
  }

  // ------------------------------------------------------------ shipping

  private schedule(t: Tracker): void {
    if (this.stopped) return;
    if (t.running) {
      t.dirty = true;
      return;
    }
    t.running = true;
    t.dirty = false;
    void this.run(t).finally(() => {
      t.running = false;
      if (t.dirty && !this.stopped) this.schedule(t);
      else this.checkIdle();
    });
  }

  private async run(t: Tracker): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (t.needsGeneration && t.db?.open) {
          if (!this.startGeneration(t)) {
            // A reader in another process holds the WAL; try again shortly.
            await this.pump.sleep(this.pump.backoff(++failures));
            continue;
          }
        } else if (t.q.length === 0) {
          t.dirty = false;
          if (!this.cut(t)) {
            if (t.needsGeneration && t.db?.open) continue;
            this.maybeCheckpoint(t);
            if (t.q.length === 0) return;
          }
        }
      } catch (err) {
        this.pump.failed(err, t.name);
        await this.pump.sleep(this.pump.backoff(++failures));
        continue;
      }
      const p = t.q[0];
      let body: Buffer;
      try {
        body = this.bytesOf(p);
      } catch (err) {
        // The file under an unshipped snapshot piece changed: that snapshot cannot be completed.
        t.chain = lost(t.chain, `snapshot piece ${p.header.index} could not be read back (${(err as Error).message})`);
        t.q = t.q.filter((x) => x.outbox !== null);
        continue;
      }
      let at: number;
      try {
        at = await this.pump.put(p.key, body, p.size);
      } catch (err) {
        this.pump.failed(err, t.name);
        await this.pump.sleep(this.pump.backoff(++failures));
        continue;
      }
      failures = 0;
      t.shipped = { generation: p.header.generation, index: p.header.index, at };
      if (this.onShipped && p.header.commits) this.onShipped(p.header.commits.map((c) => c.at), at);
      t.q.shift();
      if (t.q.length === 0) t.alarmed = false;
      try {
        if (p.outbox) rmSync(p.outbox, { force: true });
        else this.persist(t, p.after);
      } catch (err) {
        this.pump.failed(err, t.name);
      }
    }
  }

  private isIdle(): boolean {
    for (const t of this.trackers.values()) {
      if (t.running || t.q.length > 0) return false;
      // The file's size bounds the committed end: the wal-index is read only when the file is longer than what is shipped.
      if (t.db?.open && (t.needsGeneration || t.forceSnapshot || (fileSize(t.walPath) > t.pos.offset && committedEnd(t) > t.pos.offset))) return false;
    }
    return true;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    for (const w of [...this.idleWaiters]) w();
  }

  // ------------------------------------------------------------ API

  /** Resolves once everything committed so far is in the replica. */
  async flush(timeoutMs = 60_000): Promise<void> {
    for (const t of this.trackers.values()) if (t.db?.open || t.q.length > 0) this.schedule(t);
    if (this.isIdle()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.idleWaiters.delete(done);
        reject(new Error(`replication did not catch up within ${timeoutMs} ms (${this.pump.lastError ?? 'no error recorded'}); check the replica with \`haven replicate status\``));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      this.idleWaiters.add(done);
    });
  }

  /**
   * A database the store opened before replication started (the node opens
   * its store first when it restored on boot): treated as if just opened.
   */
  adopt(path: string, db: Db): void {
    if (db.open) this.opened(path, db, Buffer.alloc(0));
  }

  /**
   * `haven backup`: a fresh snapshot of every open database (checkpointed
   * first, so it holds everything committed), then waits until the replica
   * has every object, including any waiting in the outbox.
   */
  async backupNow(timeoutMs = 120_000): Promise<{ snapshots: number }> {
    let snapshots = 0;
    for (const t of this.trackers.values()) {
      if (!t.db?.open) continue;
      // A database still waiting for its first generation gets snapshot 0 anyway.
      if (t.chain.kind === 'chain' && t.chain.head.index >= 0) t.forceSnapshot = true;
      snapshots++;
    }
    await this.flush(timeoutMs);
    return { snapshots };
  }

  databases(): DatabaseStatus[] {
    return databaseStatuses(this.trackers.values());
  }

  status(): ReplicationStatus {
    return replicationStatus(this.trackers.values(), { target: this.target.description, pump: this.pump, walAlarmBytes: this.o.walAlarmBytes, generationsStarted: this.generationsStarted });
  }

  /**
   * Deletes history older than the retention window: whole generations
   * superseded before the window began, and within a generation every
   * object before the newest snapshot that is itself older than the window.
   */
  async runRetention(now = Date.now()): Promise<{ deleted: number }> {
    const doomed = expiredKeys(groupListing(await this.target.list()), now - this.o.retentionMs, now);
    if (doomed.length > 0) await this.target.delete(doomed);
    return { deleted: doomed.length };
  }

  /** Stops after shipping what it can within `timeoutMs`; what is left resumes on the next start. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.stopped) return;
    try {
      await this.flush(timeoutMs);
    } catch (err) {
      this.log.warn({ err }, 'replication: stopping with objects not yet shipped; they ship on the next start');
    }
    this.stopped = true;
    this.unregister?.();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.pump.wakeAll();
    // Let the upload loops see `stopped` and leave.
    while ([...this.trackers.values()].some((t) => t.running)) await new Promise((r) => setTimeout(r, 5));
    this.target.close();
  }
}

/**
 * The end of what a commit just made durable in the WAL: SQLite's own count
 * of committed frames (wal.ts, committedWalEnd), or the file's size where
 * the wal-index cannot be read. After a crash left an uncommitted tail, the
 * size overstated it: the next cut took the stale frames past the real end
 * for a commit it had been told of and gave the chain up as lost, and
 * flush and the checkpoint waited for frames that would never be cut.
 */
function committedEnd(t: Tracker): number {
  const size = fileSize(t.walPath);
  try {
    const end = committedWalEnd(readAt(`${t.path}-shm`, 0, 48), t.pageSize);
    return end === null ? size : Math.min(end, size);
  } catch {
    return size;
  }
}
