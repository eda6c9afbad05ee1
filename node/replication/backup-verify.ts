/**
 * @module node/replication/backup-verify
 * `haven backup verify`: restore the latest state of every database into a
 * scratch directory and compare it with the live data directory, without
 * ever opening a live file (the live state is built as a copy: the file plus
 * its committed WAL frames).
 */
import { chmodSync, closeSync, copyFileSync, existsSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDb, openEncrypted } from '../store/db.js';
import { databaseFiles } from '../store/layout.js';
import { pathForDbName } from './object.js';
import { restore, type RestoreProgress, type RestoreResult } from './restore.js';
import { keyFor } from './restore-verify.js';
import type { ReplicaTarget } from './target.js';
import { writeAll } from './restore-apply.js';
import { FRAME_HEADER_SIZE, WAL_HEADER_SIZE, dbHeaderInfo, parseWalHeader, walChecksum } from './wal.js';
import { readAt, readFd } from '../util/read-at.js';

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

