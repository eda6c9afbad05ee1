/**
 * @module node/store/db
 * Opening an encrypted database, the one way every database in the node is
 * opened: SQLite3MultipleCiphers with ChaCha20-Poly1305 and a raw 256-bit key
 * (no key derivation per open), WAL, synchronous=FULL so a commit is on disk
 * before we acknowledge anything. Replication hooks in here: it needs to see
 * every database open, every commit and every close.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { chmodSync, closeSync, existsSync, openSync, promises as fsp, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { CorruptDatabaseError, WritesRefusedError, WrongKeyError } from './errors.js';

export type Db = Database.Database;

/** Observers of database lifecycles; replication registers one. */
export interface DbObserver {
  /** Called once after open and migration; may change pragmas (e.g. wal_autocheckpoint=0). */
  opened(path: string, db: Db, key: Buffer): void;
  /** Called after a write transaction committed. Must not throw. */
  committed(path: string, db: Db): void;
  /** Called before close. */
  closing(path: string, db: Db): void;
}

const observers = new Set<DbObserver>();

export function addDbObserver(o: DbObserver): () => void {
  observers.add(o);
  return () => observers.delete(o);
}

export function notifyCommitted(path: string, db: Db): void {
  for (const o of observers) o.committed(path, db);
}

/**
 * Write gates, one per data directory: a function that returns why writes
 * are refused now (null: allowed). The fence (node/replication/epoch)
 * installs one, so a node that is not the primary takes no write, whatever
 * protocol asks. Keyed by directory because tests run several nodes in one process.
 */
const gates = new Map<string, () => string | null>();

export function setWriteGate(dataDir: string, why: () => string | null): () => void {
  // join() as the layout's paths are made, so "./data" and "data/x.sqlite" agree.
  const dir = join(dataDir, sep);
  gates.set(dir, why);
  return () => {
    if (gates.get(dir) === why) gates.delete(dir);
  };
}

/** Why writes under `path` are refused now, or null. */
export function writeRefusal(path: string): string | null {
  for (const [dir, why] of gates) {
    if (!path.startsWith(dir)) continue;
    const no = why();
    if (no !== null) return no;
  }
  return null;
}

/** Throws WritesRefusedError when a gate over `path` refuses. */
export function checkWriteGate(path: string): void {
  const no = writeRefusal(path);
  if (no !== null) throw new WritesRefusedError(no);
}

export interface OpenOptions {
  readonly?: boolean;
  /** Create the file when missing (default true). */
  create?: boolean;
  /**
   * This connection's page cache in KiB. The driver is built with a 16 MB
   * default (SQLITE_DEFAULT_CACHE_SIZE=-16000), which with a hundred open
   * mailboxes is over a gigabyte; pages evicted here come back from the OS
   * cache at the price of one ChaCha20 decryption each (a few µs per 4 KB).
   */
  cacheKiB?: number;
}

/** SQLite's own default; mailboxes ask for less (Store's mailboxCacheKiB). */
export const DEFAULT_CACHE_KIB = 2048;

/**
 * Opens and unlocks an encrypted database. A wrong key and a damaged file are
 * told apart where SQLite allows: both read as "not a database", so a file
 * whose header decrypts under no key is reported as damaged only when the
 * caller knows the key is right (see verifyKey in callers).
 */
export function openEncrypted(path: string, key: Buffer, opts: OpenOptions = {}): Db {
  if (key.length !== 32) throw new Error('database keys are 32 bytes');
  if (opts.create === false && !existsSync(path)) throw new CorruptDatabaseError(path, 'the file is missing');
  if (!opts.readonly) makePrivate(path);
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.create === false });
  } catch (err) {
    throw new CorruptDatabaseError(path, (err as Error).message);
  }
  try {
    db.pragma(`cipher='chacha20'`);
    db.pragma(`key="x'${key.toString('hex')}'"`);
    // First real read: fails here when the key is wrong or the file is damaged.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
    }
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('temp_store = MEMORY');
    db.pragma(`cache_size = -${Math.max(64, Math.floor(opts.cacheKiB ?? DEFAULT_CACHE_KIB))}`);
  } catch (err) {
    db.close();
    const e = err as { code?: string; message: string };
    if (e.code === 'SQLITE_NOTADB') throw new WrongKeyError(path);
    throw new CorruptDatabaseError(path, e.message);
  }
  return db;
}

/**
 * Database files are private to the node's user (0600). SQLite would make a
 * new file 0644 and gives its -wal and -shm files the main file's mode, so a
 * new database is created empty at 0600 first (SQLite takes an empty file as
 * a new database), and an existing one left wider by an older version is
 * narrowed, with its -wal and -shm, before SQLite opens it.
 */
function makePrivate(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return; // let SQLite report the real problem
  }
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch {
      // -wal/-shm absent, or not ours to change: SQLite decides
    }
  }
}

/** Hands an opened database to the observers (after migrations ran). */
export function announceOpened(path: string, db: Db, key: Buffer): void {
  for (const o of observers) o.opened(path, db, key);
}

export function closeDb(path: string, db: Db): void {
  if (!db.open) return;
  for (const o of observers) o.closing(path, db);
  db.close();
  releaseWal(db);
}

/** fsync a directory so a newly created file's name is durable too. */
/**
 * Runs fn in an IMMEDIATE transaction and tells observers about the commit.
 * Every write in the store goes through here, so replication never misses one.
 */
export function write<T>(path: string, db: Db, fn: () => T): T {
  checkWriteGate(path);
  const result = db.transaction(fn).immediate();
  notifyCommitted(path, db);
  return result;
}

/**
 * Like write, but SQLite does not fsync the commit (synchronous=NORMAL for
 * this one transaction); the WAL file is fsynced afterwards on libuv's thread
 * pool. The transaction is durable when `durable` resolves, not before. Used
 * for group-committed mail delivery: commits to many mailbox files then share
 * the disk's flushes instead of blocking the event loop one fsync at a time.
 */
export function writeDeferred<T>(path: string, db: Db, fn: () => T): { result: T; durable: Promise<void> } {
  const s = walState(path, db);
  s.normal.run();
  let result: T;
  try {
    result = write(path, db, fn);
  } finally {
    s.full.run();
  }
  const wal = syncWal(s);
  // The first time for a connection, the WAL file may be new: its name must be
  // durable too. Later writes wait for that same directory sync.
  if (!s.dirSynced) {
    const dir = wal.then(() => fsyncDirAsync(path));
    s.dirSynced = dir;
    dir.catch(() => {
      if (s.dirSynced === dir) s.dirSynced = null;
    });
  }
  const dirDone = s.dirSynced;
  // Asked again once durable: a node fenced while the fsync ran must not acknowledge what it wrote.
  return { result, durable: wal.then(() => dirDone).then(() => checkWriteGate(path)) };
}

async function fsyncDirAsync(file: string): Promise<void> {
  const fh = await fsp.open(dirname(file), 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * What deferred writes keep per connection: the synchronous pragmas, prepared
 * once (db.pragma prepares a statement on every call), the WAL file held open
 * for the connection's life, and its group commit.
 *
 * The WAL is opened once rather than per fsync: an open, fsync and close on
 * the thread pool per commit cost three round trips and their promises, and
 * Linux reports a writeback error to a descriptor only if it was open when
 * the error happened, so a descriptor opened afterwards could fsync "clean"
 * over lost frames. While this connection is open the WAL file is never
 * replaced (SQLite deletes it only when the last connection closes), so the
 * one descriptor is the right file throughout.
 *
 * Group commit: an fsync already running may have started before a caller's
 * commit, so the caller waits for the next one, which every caller that
 * arrives meanwhile shares. Fifty deliveries to one mailbox cost a handful of
 * fsyncs instead of fifty.
 */
interface WalState {
  file: string;
  normal: Database.Statement;
  full: Database.Statement;
  handle: Promise<FileHandle | null> | null;
  running: Promise<void> | null;
  queued: Promise<void> | null;
  /** The fsync of the WAL file's directory entry, once per connection. */
  dirSynced: Promise<void> | null;
}
const walStates = new WeakMap<Db, WalState>();
const ignore = () => undefined;

function walState(path: string, db: Db): WalState {
  let s = walStates.get(db);
  if (!s) {
    s = { file: `${path}-wal`, normal: db.prepare('PRAGMA synchronous = NORMAL'), full: db.prepare('PRAGMA synchronous = FULL'), handle: null, running: null, queued: null, dirSynced: null };
    walStates.set(db, s);
  }
  return s;
}

function syncWal(s: WalState): Promise<void> {
  if (!s.running) return startWalSync(s);
  s.queued ??= s.running.then(ignore, ignore).then(() => {
    s.queued = null;
    return startWalSync(s);
  });
  return s.queued;
}

function startWalSync(s: WalState): Promise<void> {
  const p: Promise<void> = fsyncWal(s).finally(() => {
    if (s.running === p) s.running = null;
  });
  s.running = p;
  return p;
}

async function fsyncWal(s: WalState): Promise<void> {
  s.handle ??= fsp.open(s.file, 'r').catch((err: NodeJS.ErrnoException) => {
    // No WAL file: the database was closed meanwhile, and closing checkpoints
    // every frame into the main file and syncs it before removing the WAL.
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  const handle = s.handle;
  let fh: FileHandle | null;
  try {
    fh = await handle;
  } catch (err) {
    if (s.handle === handle) s.handle = null; // tried again by the next commit
    throw err;
  }
  if (!fh) {
    if (s.handle === handle) s.handle = null;
    return;
  }
  await fh.sync();
}

/** At close: the WAL's descriptor is let go once the fsyncs already asked for have run on it. */
function releaseWal(db: Db): void {
  const s = walStates.get(db);
  if (!s) return;
  walStates.delete(db);
  const last = s.queued ?? s.running ?? Promise.resolve();
  last
    .then(ignore, ignore)
    .then(async () => (await s.handle)?.close())
    .catch(ignore);
}
