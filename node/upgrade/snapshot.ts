/**
 * @module node/upgrade/snapshot
 * The verified local snapshot an upgrade takes before it lets a new release
 * touch the data, and puts back when the new release turns out unhealthy.
 *
 * Each database is copied with its committed WAL frames applied (one file,
 * as SQLite would see it), then checked: opened with its key and `PRAGMA
 * integrity_check` where the node holds the key (directory, spool,
 * managed-mode mailboxes), SQLite's page structure otherwise (zero-access
 * mailboxes, which the server cannot open). A manifest records each file's
 * sha256 so a rollback puts back exactly what was checked. Snapshots are
 * ciphertext, like the data directory itself.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unwrapKey } from '../crypto/index.js';
import { liveImage } from '../replication/index.js';
import { dbHeaderInfo } from '../replication/wal.js';
import { Directory, openEncrypted } from '../store/index.js';
import { chownTo, dataOwner } from './owner.js';
import { fsyncDir, fsyncFile, writeSynced } from '../util/fsync.js';

export interface SnapshotFile {
  /** Path relative to the data directory. */
  rel: string;
  sha256: string;
  size: number;
  userVersion: number | null;
  checked: 'integrity_check' | 'structure';
}

export interface SnapshotManifest {
  v: 1;
  createdAt: number;
  dataDir: string;
  /** The release the data belonged to when the snapshot was taken. */
  release: string | null;
  files: SnapshotFile[];
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/** Every database file of a data directory, relative to it. */
export function databaseFiles(dataDir: string): string[] {
  const out: string[] = [];
  for (const f of ['directory.sqlite', 'spool.sqlite']) if (existsSync(join(dataDir, f))) out.push(f);
  const mb = join(dataDir, 'mailboxes');
  if (existsSync(mb)) for (const f of readdirSync(mb).sort()) if (/^[A-Za-z0-9_-]+\.sqlite$/.test(f)) out.push(`mailboxes/${f}`);
  return out;
}

export function takeSnapshot(dataDir: string, into: string, masterKey: Buffer, release: string | null = null): SnapshotManifest {
  const rels = databaseFiles(dataDir);
  if (!rels.includes('directory.sqlite')) throw new SnapshotError(`no Haven data in ${dataDir} (no directory.sqlite) to snapshot`);
  mkdirSync(join(into, 'mailboxes'), { recursive: true, mode: 0o700 });
  const files: SnapshotFile[] = [];
  for (const rel of rels) {
    const out = join(into, rel);
    liveImage(join(dataDir, rel), out);
    fsyncFile(out);
    // Mailboxes get their structure checked here; takeVerifiedSnapshot opens the managed ones with their keys.
    const key = rel === 'directory.sqlite' || rel === 'spool.sqlite' ? masterKey : null;
    files.push({ rel, ...checkFile(out, key), sha256: sha256(out), size: statSync(out).size });
  }
  return { v: 1, createdAt: Date.now(), dataDir, release, files };
}

/** Like takeSnapshot, then integrity-checks managed mailboxes with their unwrapped keys and writes the manifest. */
export async function takeVerifiedSnapshot(dataDir: string, into: string, masterKey: Buffer, release: string | null = null): Promise<SnapshotManifest> {
  const m = takeSnapshot(dataDir, into, masterKey, release);
  const dirImage = join(into, 'directory.sqlite');
  const db = openEncrypted(dirImage, masterKey, { readonly: true, create: false });
  const wraps = new Map<string, Parameters<typeof unwrapKey>[0]>();
  try {
    const dir = new Directory(dirImage, db);
    for (const a of dir.listAccounts()) {
      const w = dir.wraps(a.id).find((x) => x.kind === 'master');
      if (w) wraps.set(a.id, w.wrapped);
    }
  } finally {
    db.close();
  }
  for (const f of m.files) {
    const id = /^mailboxes\/(.+)\.sqlite$/.exec(f.rel)?.[1];
    const wrapped = id ? wraps.get(id) : undefined;
    if (!wrapped) continue;
    Object.assign(f, checkFile(join(into, f.rel), await unwrapKey(wrapped, masterKey)));
  }
  writeDurable(join(into, 'manifest.json'), Buffer.from(JSON.stringify(m, null, 2)));
  return m;
}

export function readManifest(snapshotDir: string): SnapshotManifest {
  const path = join(snapshotDir, 'manifest.json');
  if (!existsSync(path)) throw new SnapshotError(`${snapshotDir} holds no snapshot manifest; it is not a finished snapshot`);
  return JSON.parse(readFileSync(path, 'utf8')) as SnapshotManifest;
}

/**
 * Puts a snapshot back into the data directory (the node must be stopped):
 * each file is checked against the manifest first, then replaces the live
 * one with its WAL and shared-memory files removed.
 */
export function restoreSnapshot(snapshotDir: string, dataDir: string): SnapshotManifest {
  const m = readManifest(snapshotDir);
  for (const f of m.files) {
    const src = join(snapshotDir, f.rel);
    if (!existsSync(src) || sha256(src) !== f.sha256) throw new SnapshotError(`snapshot file ${src} is missing or changed since it was checked; keep the data directory as it is and restore from the replica (haven restore)`);
  }
  mkdirSync(join(dataDir, 'mailboxes'), { recursive: true, mode: 0o700 });
  // Run as root (systemctl needs it), but the node's user must own what is put back.
  const owner = dataOwner(dataDir);
  for (const f of m.files) {
    const dest = join(dataDir, f.rel);
    const tmp = `${dest}.rollback`;
    copyFileSync(join(snapshotDir, f.rel), tmp);
    chmodSync(tmp, 0o600);
    fsyncFile(tmp);
    chownTo(tmp, owner);
    for (const ext of ['-wal', '-shm']) rmSync(dest + ext, { force: true });
    renameSync(tmp, dest);
  }
  fsyncDir(join(dataDir, 'mailboxes', 'x'));
  fsyncDir(join(dataDir, 'x'));
  return m;
}

function checkFile(path: string, key: Buffer | null): { checked: SnapshotFile['checked']; userVersion: number | null } {
  if (key) {
    let db;
    try {
      db = openEncrypted(path, key, { readonly: true, create: false });
    } catch (err) {
      throw new SnapshotError(`snapshot of ${path} does not open with its key (${(err as Error).message}); the live database may be damaged: run \`haven backup verify\` before upgrading`);
    }
    try {
      const r = db.pragma('integrity_check', { simple: true });
      if (r !== 'ok') throw new SnapshotError(`snapshot of ${path} fails PRAGMA integrity_check (${String(r)}); not upgrading over a damaged database`);
      return { checked: 'integrity_check', userVersion: db.pragma('user_version', { simple: true }) as number };
    } finally {
      db.close();
    }
  }
  const size = statSync(path).size;
  const info = dbHeaderInfo(readHead(path, 100));
  if (!info || size === 0 || size % info.pageSize !== 0) throw new SnapshotError(`snapshot of ${path} is not a whole SQLite file; not upgrading over a damaged database`);
  return { checked: 'structure', userVersion: null };
}

/** Hashed in 4 MiB reads: snapshots of large mailboxes are gigabytes. */
function sha256(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4 << 20);
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function readHead(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    return buf.subarray(0, readSync(fd, buf, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

/** The snapshot's own files are new names in a directory of their own: written in place, then the name synced. */
function writeDurable(path: string, data: Buffer): void {
  writeSynced(path, data);
  fsyncDir(path);
}
