/**
 * @module node/transfer/zip
 * A streaming ZIP writer (PKWARE APPNOTE 6.3.x), enough for an export the
 * owner downloads: entries stored uncompressed (mail is mostly compressed
 * or base64 already; storing keeps the CPU free for delivery), each written
 * as it comes with its CRC-32 and sizes in a data descriptor after the data
 * (§4.3.9, general purpose bit 3), so nothing is buffered but the central
 * directory. UTF-8 names (bit 11).
 *
 * ZIP64 (§4.3.14, §4.3.15, §4.5.3) only where a plain ZIP cannot say it, so
 * an ordinary export stays a version 2.0 ZIP every reader opens:
 * - an entry's sizes: the data descriptor is written before the central
 *   directory, and §4.3.9.2 lets a reader size it by whether the local
 *   header carries the ZIP64 extra field, so that choice is made at the
 *   header. An entry whose most bytes the caller states (`maxBytes`) below
 *   4 GiB gets a plain header and a 4-byte descriptor; one whose size is
 *   unknown or may reach 4 GiB (an mbox of a big folder) gets the ZIP64
 *   extra field in its local header and an 8-byte descriptor, which
 *   §4.3.9.2 allows "regardless of the size of a file";
 * - an entry's offset past 4 GiB: only the central directory holds it, so
 *   its central record alone carries the extra field (§4.5.3: only the
 *   fields whose 4-byte value reads 0xFFFFFFFF);
 * - 65,535 entries or more, or a central directory that starts or reaches
 *   past 4 GiB: the ZIP64 end record and its locator before the plain end
 *   record, whose too-small fields read -1 (§4.4.1.4).
 */
import { crc32 } from 'node:zlib';

/** A 4-byte field at this value means "see the ZIP64 extra field" (§4.4.1.4), so it is never a real value. */
const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
/** Version needed to extract: 2.0 plain, 4.5 with ZIP64 (§4.4.3.2). */
const V20 = 20;
const V45 = 45;
/** General purpose flags: bit 3 (sizes in the data descriptor), bit 11 (UTF-8 names). */
const FLAGS = 0x0808;

function unixTime(ms: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt16LE(0x5455, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4); // modification time present
  b.writeUInt32LE(Math.max(0, Math.floor(ms / 1000)) >>> 0, 5);
  return b;
}

function dosTime(ms: number): { time: number; date: number } {
  const d = new Date(ms);
  const year = Math.max(1980, d.getUTCFullYear());
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** The ZIP64 extended information extra field (0x0001, §4.5.3) holding `values` as 8-byte numbers, in the fixed order. */
function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

interface Entry {
  name: Buffer;
  /** Info-ZIP's extended timestamp (0x5455): the modification time to the second; DOS time has two-second steps. */
  extra: Buffer;
  offset: number;
  crc: number;
  size: number;
  /** The most bytes the caller said it would write; Infinity when it did not know. */
  max: number;
  /** The local header carries the ZIP64 extra field, so the data descriptor has 8-byte sizes (§4.3.9.2). */
  zip64: boolean;
  time: number;
  date: number;
  dir: boolean;
}

/** An entry grew past what its caller declared at its header: the archive cannot describe it any more. */
export class ZipEntrySizeError extends Error {
  constructor(name: string, max: number) {
    super(`zip: ${name} grew past the ${max} bytes declared when it began`);
    this.name = 'ZipEntrySizeError';
  }
}

export interface BeginOptions {
  /** The file's time (default: now). */
  mtimeMs?: number;
  /** The most bytes the entry will hold, when known before its data; writing more fails. Unknown: ZIP64 for this entry. */
  maxBytes?: number;
}

/** The central directory grows in pages of this size. */
const PAGE = 1024 * 1024;

/** Feeds bytes to `out` in order; `out` may apply backpressure by returning a promise. */
export class ZipWriter {
  private offset = 0;
  /**
   * The central directory, each record packed as it is final, is all the
   * writer holds until the end: for 300,000 messages 35 MB, where an
   * object per entry took 190 MB (JS heap and small Buffers).
   */
  private readonly pages: Buffer[] = [];
  private fill = 0;
  private count = 0;
  private open: Entry | null = null;

  constructor(private readonly out: (chunk: Buffer) => Promise<void> | void) {}

  private async emit(b: Buffer): Promise<void> {
    this.offset += b.length;
    await this.out(b);
  }

  private record(e: Entry): void {
    const r = this.central(e);
    const last = this.pages.length - 1;
    if (last < 0 || this.fill + r.length > this.pages[last].length) {
      // The full page keeps only what it holds; records never straddle two pages.
      if (last >= 0) this.pages[last] = this.pages[last].subarray(0, this.fill);
      this.pages.push(Buffer.allocUnsafe(Math.max(PAGE, r.length)));
      this.fill = 0;
    }
    r.copy(this.pages[this.pages.length - 1], this.fill);
    this.fill += r.length;
    this.count++;
  }

  private entry(name: string, mtimeMs: number, dir: boolean, max: number): Entry {
    return { name: Buffer.from(name), extra: unixTime(mtimeMs), offset: this.offset, crc: 0, size: 0, max, zip64: max >= MAX32, ...dosTime(mtimeMs), dir };
  }

  /** §4.3.7; with bit 3 the CRC and sizes are zero here, or, for a ZIP64 entry, -1 with zeros in the extra field (§4.4.8, §4.5.3: both sizes). */
  private header(e: Entry): Buffer {
    const extra = e.zip64 ? Buffer.concat([zip64Extra([0, 0]), e.extra]) : e.extra;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(e.zip64 ? V45 : V20, 4);
    h.writeUInt16LE(FLAGS, 6);
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt16LE(e.time, 10);
    h.writeUInt16LE(e.date, 12);
    if (e.zip64) {
      h.writeUInt32LE(MAX32, 18);
      h.writeUInt32LE(MAX32, 22);
    }
    h.writeUInt16LE(e.name.length, 26);
    h.writeUInt16LE(extra.length, 28);
    return Buffer.concat([h, e.name, extra]);
  }

  /** §4.3.9: signature, CRC-32, then compressed and uncompressed sizes (equal: stored), 8 bytes each for a ZIP64 entry. */
  private descriptor(e: Entry): Buffer {
    const d = Buffer.alloc(e.zip64 ? 24 : 16);
    d.writeUInt32LE(0x08074b50, 0);
    d.writeUInt32LE(e.crc >>> 0, 4);
    if (e.zip64) {
      d.writeBigUInt64LE(BigInt(e.size), 8);
      d.writeBigUInt64LE(BigInt(e.size), 16);
    } else {
      d.writeUInt32LE(e.size, 8);
      d.writeUInt32LE(e.size, 12);
    }
    return d;
  }

  /** A directory entry (`name/`), so an empty Maildir `tmp/` survives. */
  async dir(name: string, mtimeMs = Date.now()): Promise<void> {
    const e = this.entry(name.replace(/\/?$/, '/'), mtimeMs, true, 0);
    await this.emit(this.header(e));
    await this.emit(this.descriptor(e));
    this.record(e);
  }

  /** Starts a file; `write` its bytes, then `close` it. */
  async begin(name: string, o: BeginOptions = {}): Promise<void> {
    if (this.open) throw new Error('zip: the previous entry is still open');
    const e = this.entry(name, o.mtimeMs ?? Date.now(), false, o.maxBytes ?? Infinity);
    this.open = e;
    await this.emit(this.header(e));
  }

  async write(data: Buffer): Promise<void> {
    const e = this.open;
    if (!e) throw new Error('zip: no entry is open');
    if (e.size + data.length > e.max) throw new ZipEntrySizeError(e.name.toString(), e.max);
    e.crc = crc32(data, e.crc);
    e.size += data.length;
    await this.emit(data);
  }

  async close(): Promise<void> {
    const e = this.open;
    if (!e) return;
    this.open = null;
    await this.emit(this.descriptor(e));
    this.record(e);
  }

  /** §4.3.12; sizes or offset that do not fit read -1 and go, in that order, into the ZIP64 extra field (§4.5.3). */
  private central(e: Entry): Buffer {
    const big = e.size >= MAX32;
    const far = e.offset >= MAX32;
    const z = [...(big ? [e.size, e.size] : []), ...(far ? [e.offset] : [])];
    const extra = z.length ? Buffer.concat([zip64Extra(z), e.extra]) : e.extra;
    const version = e.zip64 || z.length ? V45 : V20;
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE((3 << 8) | version, 4); // made by: Unix (so the modes below are read)
    c.writeUInt16LE(version, 6);
    c.writeUInt16LE(FLAGS, 8);
    c.writeUInt16LE(0, 10);
    c.writeUInt16LE(e.time, 12);
    c.writeUInt16LE(e.date, 14);
    c.writeUInt32LE(e.crc >>> 0, 16);
    c.writeUInt32LE(big ? MAX32 : e.size, 20);
    c.writeUInt32LE(big ? MAX32 : e.size, 24);
    c.writeUInt16LE(e.name.length, 28);
    c.writeUInt16LE(extra.length, 30);
    // External attributes: Unix mode in the high 16 bits (0700 directories, 0600 files), MS-DOS directory bit.
    c.writeUInt32LE((((e.dir ? 0o040700 : 0o100600) << 16) | (e.dir ? 0x10 : 0)) >>> 0, 38);
    c.writeUInt32LE(far ? MAX32 : e.offset, 42);
    return Buffer.concat([c, e.name, extra]);
  }

  /** Writes the central directory and the end records. */
  async finish(): Promise<void> {
    await this.close();
    const start = this.offset;
    const last = this.pages.length - 1;
    for (let i = 0; i <= last; i++) await this.emit(i === last ? this.pages[i].subarray(0, this.fill) : this.pages[i]);
    this.pages.length = 0;
    const size = this.offset - start;
    const count = this.count;
    if (count >= MAX16 || size >= MAX32 || start >= MAX32) {
      // §4.3.14: the ZIP64 end of central directory record, version 1 (56 bytes; its size field counts the 44 after it).
      const at = this.offset;
      const r = Buffer.alloc(56);
      r.writeUInt32LE(0x06064b50, 0);
      r.writeBigUInt64LE(44n, 4);
      r.writeUInt16LE((3 << 8) | V45, 12);
      r.writeUInt16LE(V45, 14);
      // Disk numbers (16, 20) stay 0: one disk.
      r.writeBigUInt64LE(BigInt(count), 24);
      r.writeBigUInt64LE(BigInt(count), 32);
      r.writeBigUInt64LE(BigInt(size), 40);
      r.writeBigUInt64LE(BigInt(start), 48);
      // §4.3.15: the locator, which readers find just before the plain end record.
      const l = Buffer.alloc(20);
      l.writeUInt32LE(0x07064b50, 0);
      l.writeBigUInt64LE(BigInt(at), 8);
      l.writeUInt32LE(1, 16); // total number of disks
      await this.emit(Buffer.concat([r, l]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(Math.min(count, MAX16), 8);
    end.writeUInt16LE(Math.min(count, MAX16), 10);
    end.writeUInt32LE(Math.min(size, MAX32), 12);
    end.writeUInt32LE(Math.min(start, MAX32), 16);
    await this.emit(end);
  }
}
