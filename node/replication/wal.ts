/**
 * @module node/replication/wal
 * Reading SQLite WAL files the way SQLite's own recovery does: a 32-byte
 * header (magic, format, page size, checkpoint sequence, two salts, a
 * checksum) and frames of a 24-byte header (page number, database size in
 * pages on a commit frame, the salts, a running checksum) plus one page.
 *
 * SQLite3MultipleCiphers encrypts only the page data: headers and checksums
 * are plain, so the replicator can find commit boundaries, check every
 * frame's checksum and ship the page data byte for byte without a key. A
 * frame's page is valid ciphertext for the database file at that page
 * (checkpoints re-encrypt with a fresh nonce, so the bytes differ from the
 * checkpointed file, but both decrypt to the same page), which is why a
 * restore can rebuild a database by writing frames into the snapshot.
 */

export const WAL_HEADER_SIZE = 32;
export const FRAME_HEADER_SIZE = 24;

export interface WalHeader {
  magic: number;
  pageSize: number;
  checkpointSeq: number;
  salt1: number;
  salt2: number;
  /** Checksum of the first 24 header bytes: the seed of the frame chain. */
  cksum: [number, number];
  bigEndian: boolean;
  raw: Buffer;
}

export function parseWalHeader(buf: Buffer): WalHeader | null {
  if (buf.length < WAL_HEADER_SIZE) return null;
  const magic = buf.readUInt32BE(0);
  if (magic !== 0x377f0682 && magic !== 0x377f0683) return null;
  const bigEndian = (magic & 1) === 1;
  const stored: [number, number] = [buf.readUInt32BE(24), buf.readUInt32BE(28)];
  const computed = walChecksum(bigEndian, buf.subarray(0, 24), [0, 0]);
  if (computed[0] !== stored[0] || computed[1] !== stored[1]) return null;
  let pageSize = buf.readUInt32BE(8);
  if (pageSize === 1) pageSize = 65536;
  return {
    magic,
    pageSize,
    checkpointSeq: buf.readUInt32BE(12),
    salt1: buf.readUInt32BE(16),
    salt2: buf.readUInt32BE(20),
    cksum: stored,
    bigEndian,
    raw: Buffer.from(buf.subarray(0, WAL_HEADER_SIZE)),
  };
}

/**
 * SQLite's WAL checksum (walChecksumBytes): two running 32-bit sums over 8-byte steps.
 * Through a DataView: a restore checksums every frame it replays, and
 * Buffer.readUInt32* (a bounds check and byte assembly per word) made this
 * the largest cost of replaying a long WAL history.
 */
export function walChecksum(bigEndian: boolean, data: Buffer, seed: [number, number]): [number, number] {
  let s1 = seed[0] >>> 0;
  let s2 = seed[1] >>> 0;
  const n = data.length & ~7;
  const v = new DataView(data.buffer, data.byteOffset, n);
  const le = !bigEndian;
  for (let i = 0; i < n; i += 8) {
    s1 = (s1 + v.getUint32(i, le) + s2) >>> 0;
    s2 = (s2 + v.getUint32(i + 4, le) + s1) >>> 0;
  }
  return [s1, s2];
}

export interface Frame {
  pgno: number;
  /** Database size in pages after this commit; 0 for a frame that is not a commit. */
  commit: number;
}

export interface FrameScan {
  /** Frames that belong to complete commits, in order. */
  frames: Frame[];
  /** Offset just past the last commit frame (== start when none). */
  end: number;
  /** Running checksum at `end`. */
  cksum: [number, number];
  /** Why the scan stopped before the data ran out, if it did. */
  stopped?: string;
}

/**
 * Walks frames in `buf` (which starts at WAL offset `start`), checking salts
 * and the checksum chain from `seed`, and returns the complete commits. A
 * frame that fails the check ends the scan, as it ends SQLite's recovery: it
 * is a stale frame from before a WAL restart or a write still in progress.
 */
export function scanFrames(hdr: WalHeader, buf: Buffer, seed: [number, number], opts: { firstCommitOnly?: boolean } = {}): FrameScan {
  const size = FRAME_HEADER_SIZE + hdr.pageSize;
  const frames: Frame[] = [];
  let cksum = seed;
  let lastCommitIdx = -1;
  let lastCommitCksum = seed;
  let stopped: string | undefined;
  for (let off = 0; off + size <= buf.length; off += size) {
    const salt1 = buf.readUInt32BE(off + 8);
    const salt2 = buf.readUInt32BE(off + 12);
    if (salt1 !== hdr.salt1 || salt2 !== hdr.salt2) {
      stopped = 'salt';
      break;
    }
    let c = walChecksum(hdr.bigEndian, buf.subarray(off, off + 8), cksum);
    c = walChecksum(hdr.bigEndian, buf.subarray(off + FRAME_HEADER_SIZE, off + size), c);
    if (c[0] !== buf.readUInt32BE(off + 16) || c[1] !== buf.readUInt32BE(off + 20)) {
      stopped = 'checksum';
      break;
    }
    cksum = c;
    const f = { pgno: buf.readUInt32BE(off), commit: buf.readUInt32BE(off + 4) };
    frames.push(f);
    if (f.commit !== 0) {
      lastCommitIdx = frames.length - 1;
      lastCommitCksum = c;
      if (opts.firstCommitOnly) break;
    }
  }
  const kept = frames.slice(0, lastCommitIdx + 1);
  return { frames: kept, end: kept.length * size, cksum: lastCommitCksum, stopped };
}

/** The plain part of an SQLite3MultipleCiphers database header (bytes 16–23 stay unencrypted). */
export function dbHeaderInfo(page1: Buffer): { pageSize: number; reserved: number } | null {
  if (page1.length < 24) return null;
  let pageSize = page1.readUInt16BE(16);
  if (pageSize === 1) pageSize = 65536;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return null;
  // Bytes 21–23 are the payload fractions SQLite requires to be 64, 32, 32.
  if (page1[21] !== 64 || page1[22] !== 32 || page1[23] !== 32) return null;
  return { pageSize, reserved: page1[20] };
}

/** The wal-index header's format number (walformat.html §2.1: iVersion). */
const WAL_INDEX_VERSION = 3007000;

/**
 * Where the WAL's committed frames end, from the first bytes of its
 * wal-index (the -shm file): SQLite keeps the count of committed frames,
 * mxFrame, at offset 16 of the header, in the machine's byte order
 * (https://www.sqlite.org/walformat.html §2.1). The WAL file's size is not
 * that end: a transaction that never committed (a crash in the middle of
 * one) leaves valid-looking frames past the last commit, and the next
 * transaction overwrites them from the last commit on, so the file can stay
 * longer than what is committed. Null when the header is not one we know.
 */
export function committedWalEnd(shmHeader: Buffer, pageSize: number): number | null {
  if (shmHeader.length < 48) return null;
  const le = shmHeader.readUInt32LE(0) === WAL_INDEX_VERSION;
  if (!le && shmHeader.readUInt32BE(0) !== WAL_INDEX_VERSION) return null;
  if (shmHeader[12] !== 1) return null; // isInit: the header is not valid yet
  const mxFrame = le ? shmHeader.readUInt32LE(16) : shmHeader.readUInt32BE(16);
  return mxFrame === 0 ? WAL_HEADER_SIZE : WAL_HEADER_SIZE + mxFrame * (FRAME_HEADER_SIZE + pageSize);
}
