/**
 * @module node/replication/object
 * The replica's object format. Every object is one link of a
 * chain per database and generation:
 *
 *   "HAVENRP1" | u32 header length | header JSON | payload | sha256(all before)
 *
 * The header says where the object sits (database, generation, index) and
 * the checksum of the object before it, so a restore notices a missing,
 * reordered, replaced or damaged object and can name it. Payloads are
 * ciphertext (a database file, or WAL frames); headers hold only numbers,
 * salts and account ids, never an address or anything from a message.
 *
 * Where each object is stored (its key) is part of the data's layout, in
 * node/store/layout with the paths and database names.
 */
import { createHash, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from('HAVENRP1');

/** A snapshot too big for one object continues in `part` objects right after it. */
export type { ObjectKind } from '../store/layout.js';
import type { ObjectKind } from '../store/layout.js';

export interface CommitMark {
  /** Index (within this object) of the commit frame. */
  frame: number;
  /** When the commit was seen (ms since epoch). */
  at: number;
  /** Database size in pages after the commit. */
  pages: number;
}

export interface ObjectHeader {
  v: 1;
  db: string;
  generation: string;
  index: number;
  kind: ObjectKind;
  /** sha256 (hex) of the previous object in this generation; null for index 0. */
  prev: string | null;
  createdAt: number;
  pageSize: number;
  payloadLength: number;
  /** snapshot and part: pages in the whole file. */
  pages?: number;
  /** snapshot and part: this piece's number (0 for the snapshot object itself) and how many there are. */
  part?: number;
  parts?: number;
  /** snapshot and part: byte offset of this piece in the file. */
  offset?: number;
  /** wal: the WAL header of the epoch these frames belong to (hex). */
  walHeader?: string;
  /** wal: offset of the first frame in the WAL file. */
  walOffset?: number;
  /** wal: running WAL checksum before the first frame. */
  walSeed?: [number, number];
  /** wal: running WAL checksum after the last frame. */
  walEnd?: [number, number];
  frames?: number;
  commits?: CommitMark[];
}

export interface ReplicaObject {
  header: ObjectHeader;
  payload: Buffer;
  /** sha256 (hex) of the whole object: what the next object's `prev` names. */
  checksum: string;
  bytes: Buffer;
}

export function encodeObject(header: ObjectHeader, payload: Buffer): ReplicaObject {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(h.length);
  const body = Buffer.concat([MAGIC, len, h, payload]);
  const sum = createHash('sha256').update(body).digest();
  return { header, payload, checksum: sum.toString('hex'), bytes: Buffer.concat([body, sum]) };
}

export class ObjectFormatError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`replica object ${key}: ${problem}`);
    this.name = 'ObjectFormatError';
  }
}

export function decodeObject(key: string, bytes: Buffer): ReplicaObject {
  if (bytes.length < MAGIC.length + 4 + 32 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ObjectFormatError(key, 'not a Haven replica object (bad magic or truncated)');
  }
  const body = bytes.subarray(0, bytes.length - 32);
  const sum = createHash('sha256').update(body).digest();
  if (!sum.equals(bytes.subarray(bytes.length - 32))) throw new ObjectFormatError(key, 'checksum mismatch: the object is damaged');
  const hlen = bytes.readUInt32BE(MAGIC.length);
  const hstart = MAGIC.length + 4;
  if (hstart + hlen > body.length) throw new ObjectFormatError(key, 'header length out of range');
  let header: ObjectHeader;
  try {
    header = JSON.parse(body.subarray(hstart, hstart + hlen).toString('utf8')) as ObjectHeader;
  } catch {
    throw new ObjectFormatError(key, 'header is not JSON');
  }
  const payload = body.subarray(hstart + hlen);
  if (payload.length !== header.payloadLength) throw new ObjectFormatError(key, `payload is ${payload.length} bytes, header says ${header.payloadLength}`);
  return { header, payload, checksum: sum.toString('hex'), bytes };
}

/** Time-ordered generation ids: 12 hex digits of ms, then 8 random hex digits. */
export function newGeneration(now = Date.now()): string {
  return now.toString(16).padStart(12, '0') + randomBytes(4).toString('hex');
}

export function generationTime(gen: string): number {
  return parseInt(gen.slice(0, 12), 16);
}

/** Database names and object keys in the replica come from the one layout module (node/store/layout). */
export { dbNameForPath, objectKey, parseKey, pathForDbName, type ParsedKey } from '../store/layout.js';
