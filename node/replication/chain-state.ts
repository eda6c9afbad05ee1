/**
 * @module node/replication/chain-state
 * Where one database stands with its chain in the replica, as a value:
 *
 *   none    no chain yet (never shipped, or the local state was lost);
 *   broken  the chain cannot be continued (a WAL reset by someone else,
 *           frames that do not check out, a file replaced or restored): the
 *           next step is a new generation;
 *   chain   appending to `head`: the generation, the index and checksum of
 *           the last object cut, and where in the WAL (or, after our own
 *           checkpoint, which database file) the next object starts.
 *
 * Transitions are synchronous functions of the state and of facts read from
 * the files (`readDiskFacts`), so they are tested on real SQLite files
 * without a replica. The replicator holds one ChainState per database; a
 * standby following the replica can hold the same value for each database
 * it applies, with `appended` as its one transition.
 */
import { existsSync, statSync } from 'node:fs';
import { readAt } from '../util/read-at.js';
import { FRAME_HEADER_SIZE, WAL_HEADER_SIZE, parseWalHeader } from './wal.js';

export interface WalPos {
  /** Salts of the WAL epoch shipped so far; null when the next epoch starts fresh (after our checkpoint). */
  salt: [number, number] | null;
  header: string | null;
  /** Offset in the WAL just past the last shipped frame (0 when salt is null). */
  offset: number;
  cksum: [number, number] | null;
}

export const RESET_POS: WalPos = Object.freeze({ salt: null, header: null, offset: 0, cksum: null }) as WalPos;

export interface FileStat {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface ChainHead {
  generation: string;
  /** Index of the last object cut; -1 when the generation has none yet. */
  index: number;
  /** sha256 of that object (the next object's `prev`); null before the first. */
  checksum: string | null;
  pos: WalPos;
  /** The database file after our last checkpoint: a restart continues the chain only if it is unchanged. */
  dbStat: FileStat | null;
}

export type ChainState = { kind: 'none' } | { kind: 'broken'; why: string; last: ChainHead | null } | { kind: 'chain'; head: ChainHead };

/** What continuity is judged on: the database file's stat and its WAL as it lies. */
export interface DiskFacts {
  stat: FileStat | null;
  wal: {
    size: number;
    salt: [number, number];
    /** The WAL header's checksum (what frame 1 continues). */
    headerCksum: [number, number];
    pageSize: number;
    /** The running checksum stored in the frame that ends at `offset`. */
    cksumEndingAt(offset: number): [number, number] | null;
  } | null;
}

export const NONE: ChainState = Object.freeze({ kind: 'none' });

/** The state saved by an earlier run: a chain when it holds at least one object. */
export function fromSaved(saved: ChainHead | null): ChainState {
  return saved && saved.generation && saved.index >= 0 ? { kind: 'chain', head: saved } : NONE;
}

/** The head of the chain (or the last one known before it broke), if any. */
export function headOf(s: ChainState): ChainHead | null {
  return s.kind === 'chain' ? s.head : s.kind === 'broken' ? s.last : null;
}

/**
 * Whether the files on disk continue `head`: the WAL still holds our epoch up
 * to the frame shipped last, or (after our checkpoint) the database file is
 * exactly as we left it.
 */
export function continues(head: ChainHead, disk: DiskFacts): boolean {
  if (!head.generation || head.index < 0) return false;
  const p = head.pos;
  if (p.salt) {
    const w = disk.wal;
    if (!w || w.salt[0] !== p.salt[0] || w.salt[1] !== p.salt[1] || w.size < p.offset) return false;
    const want = p.offset === WAL_HEADER_SIZE ? w.headerCksum : w.cksumEndingAt(p.offset);
    return !!want && !!p.cksum && want[0] === p.cksum[0] && want[1] === p.cksum[1];
  }
  const s = disk.stat;
  return !!s && !!head.dbStat && s.size === head.dbStat.size && s.mtimeMs === head.dbStat.mtimeMs && s.ino === head.dbStat.ino;
}

/** At an open (or a start): keep the chain if the files continue it, else say why not. */
export function verified(s: ChainState, disk: DiskFacts): ChainState {
  if (s.kind === 'broken') return s;
  if (s.kind === 'chain' && continues(s.head, disk)) return s;
  return { kind: 'broken', why: 'no continuous history for this file', last: headOf(s) };
}

/** Continuity is lost; the first reason given is kept. */
export function lost(s: ChainState, why: string): ChainState {
  return s.kind === 'broken' ? s : { kind: 'broken', why, last: headOf(s) };
}

/** A new generation begins at a checkpointed file: no objects yet, snapshot 0 comes next. */
export function began(generation: string, dbStat: FileStat | null): ChainState {
  return { kind: 'chain', head: { generation, index: -1, checksum: null, pos: RESET_POS, dbStat } };
}

/** An object was cut at the head: it must be the next index of this generation. */
export function appended(s: ChainState, o: { generation: string; index: number; checksum: string; pos: WalPos }): ChainState {
  if (s.kind !== 'chain') throw new Error(`chain: cannot append object ${o.index} to a ${s.kind} chain`);
  if (o.generation !== s.head.generation || o.index !== s.head.index + 1) {
    throw new Error(`chain: object ${o.generation}/${o.index} does not follow ${s.head.generation}/${s.head.index}`);
  }
  return { kind: 'chain', head: { ...s.head, index: o.index, checksum: o.checksum, pos: o.pos } };
}

/** Our own checkpoint emptied the WAL: the next frames start a new epoch, and the file is as we left it. */
export function checkpointed(s: ChainState, dbStat: FileStat | null): ChainState {
  if (s.kind !== 'chain') return s;
  return { kind: 'chain', head: { ...s.head, pos: RESET_POS, dbStat } };
}

// ------------------------------------------------------------------ disk

export function statOf(path: string): FileStat | null {
  try {
    const s = statSync(path);
    return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
  } catch {
    return null;
  }
}

/** Reads what `continues` needs from a database file and its WAL. */
export function readDiskFacts(path: string): DiskFacts {
  const walPath = `${path}-wal`;
  const stat = statOf(path);
  if (!existsSync(walPath)) return { stat, wal: null };
  const size = statOf(walPath)?.size ?? 0;
  const hdr = size >= WAL_HEADER_SIZE ? parseWalHeader(readAt(walPath, 0, WAL_HEADER_SIZE)) : null;
  if (!hdr) return { stat, wal: null };
  return {
    stat,
    wal: {
      size,
      salt: [hdr.salt1, hdr.salt2],
      headerCksum: hdr.cksum,
      pageSize: hdr.pageSize,
      cksumEndingAt(offset) {
        const at = offset - FRAME_HEADER_SIZE - hdr.pageSize;
        if (at < WAL_HEADER_SIZE || offset > size) return null;
        const frame = readAt(walPath, at, FRAME_HEADER_SIZE);
        return [frame.readUInt32BE(16), frame.readUInt32BE(20)];
      },
    },
  };
}
