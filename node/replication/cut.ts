/**
 * @module node/replication/cut
 * Cutting the next WAL object: the committed frames past the chain's head,
 * byte for byte (they are ciphertext), each frame's checksum checked
 * against the running WAL checksum, with the commit times the replicator
 * saw. A synchronous function of the head, the WAL file and the commits;
 * it says when the WAL no longer continues the chain instead of guessing.
 */
import { readAt } from '../util/read-at.js';
import type { ChainHead, WalPos } from './chain-state.js';
import { encodeObject, type CommitMark, type ObjectHeader, type ReplicaObject } from './object.js';
import { FRAME_HEADER_SIZE, WAL_HEADER_SIZE, parseWalHeader, scanFrames } from './wal.js';

export type Cut =
  /** Nothing committed past the head. */
  | { kind: 'nothing' }
  /** The WAL no longer continues the chain. */
  | { kind: 'lost'; why: string }
  | { kind: 'object'; object: ReplicaObject; pos: WalPos; oldestAt: number; payloadBytes: number; end: number };

/**
 * The next object for `db` after `head`, from `walPath` (`walSize` bytes
 * now). `commits` are the commit ends and times seen since the last cut;
 * one transaction larger than `maxObjectBytes` still ships whole.
 */
export function cutWal(db: string, head: ChainHead, walPath: string, walSize: number, commits: readonly { end: number; at: number }[], maxObjectBytes: number, now = Date.now()): Cut {
  if (walSize < WAL_HEADER_SIZE) return { kind: 'nothing' };
  const hdr = parseWalHeader(readAt(walPath, 0, WAL_HEADER_SIZE));
  if (!hdr) return { kind: 'nothing' };
  let start: number;
  let seed: [number, number];
  if (head.pos.salt === null) {
    start = WAL_HEADER_SIZE;
    seed = hdr.cksum;
  } else {
    if (hdr.salt1 !== head.pos.salt[0] || hdr.salt2 !== head.pos.salt[1]) return { kind: 'lost', why: 'the WAL was reset by someone else' };
    start = head.pos.offset;
    seed = head.pos.cksum!;
  }
  if (walSize <= start) return { kind: 'nothing' };
  const frameSize = FRAME_HEADER_SIZE + hdr.pageSize;
  const maxLen = Math.max(frameSize, Math.floor(maxObjectBytes / frameSize) * frameSize);
  let buf = readAt(walPath, start, Math.min(walSize - start, maxLen));
  let scan = scanFrames(hdr, buf, seed);
  // One transaction larger than an object (a message with a big attachment) ships whole, as one
  // larger object: widen the window until its commit frame is in it, and stop there.
  for (let window = maxLen * 2; scan.frames.length === 0 && !scan.stopped && buf.length < walSize - start; window *= 2) {
    buf = readAt(walPath, start, Math.min(walSize - start, window));
    scan = scanFrames(hdr, buf, seed, { firstCommitOnly: true });
  }
  if (scan.frames.length === 0) {
    // Frames we were told are committed but that do not check out: we lost track.
    if (scan.stopped && commits.some((c) => c.end > start)) return { kind: 'lost', why: `WAL frames at offset ${start} do not continue the chain (${scan.stopped})` };
    return { kind: 'nothing' };
  }
  const marks: CommitMark[] = [];
  scan.frames.forEach((f, i) => {
    if (f.commit === 0) return;
    const frameEnd = start + (i + 1) * frameSize;
    const seen = commits.find((c) => c.end >= frameEnd);
    marks.push({ frame: i, at: seen ? seen.at : now, pages: f.commit });
  });
  const header: ObjectHeader = {
    v: 1,
    db,
    generation: head.generation,
    index: head.index + 1,
    kind: 'wal',
    prev: head.checksum,
    createdAt: now,
    pageSize: hdr.pageSize,
    payloadLength: scan.end,
    walHeader: hdr.raw.toString('hex'),
    walOffset: start,
    walSeed: seed,
    walEnd: scan.cksum,
    frames: scan.frames.length,
    commits: marks,
  };
  const end = start + scan.end;
  return {
    kind: 'object',
    object: encodeObject(header, buf.subarray(0, scan.end)),
    pos: { salt: [hdr.salt1, hdr.salt2], header: hdr.raw.toString('hex'), offset: end, cksum: scan.cksum },
    oldestAt: marks[0]?.at ?? now,
    payloadBytes: scan.end,
    end,
  };
}
