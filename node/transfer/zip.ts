/**
 * @module node/transfer/zip
 * A streaming ZIP writer (PKWARE APPNOTE 6.3.x), enough for an export the
 * owner downloads: entries stored uncompressed (mail is mostly compressed
 * or base64 already; storing keeps the CPU free for delivery), each written
 * as it comes with its CRC-32 and sizes in a data descriptor after the data
 * (§4.3.9, general purpose bit 3), so nothing is buffered but the central
 * directory. UTF-8 names (bit 11). Sizes and offsets must stay under 4 GiB:
 * beyond, ZIP64 would be needed and the writer refuses clearly instead.
 */
import { crc32 } from 'node:zlib';

const LIMIT = 0xffffffff;

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

interface Entry {
  name: Buffer;
  /** Info-ZIP's extended timestamp (0x5455): the modification time to the second; DOS time has two-second steps. */
  extra: Buffer;
  offset: number;
  crc: number;
  size: number;
  time: number;
  date: number;
  dir: boolean;
}

export class ZipTooLargeError extends Error {
  constructor() {
    super('the export is larger than 4 GiB, more than a plain ZIP holds; use `haven export` on the server instead');
    this.name = 'ZipTooLargeError';
  }
}

/** Feeds bytes to `out` in order; `out` may apply backpressure by returning a promise. */
export class ZipWriter {
  private offset = 0;
  private readonly entries: Entry[] = [];
  private open: Entry | null = null;

  constructor(private readonly out: (chunk: Buffer) => Promise<void> | void) {}

  private async emit(b: Buffer): Promise<void> {
    this.offset += b.length;
    if (this.offset > LIMIT) throw new ZipTooLargeError();
    await this.out(b);
  }

  private header(e: Entry): Buffer {
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4); // version needed: 2.0
    h.writeUInt16LE(0x0808, 6); // bit 3: sizes in the data descriptor; bit 11: UTF-8 name
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt16LE(e.time, 10);
    h.writeUInt16LE(e.date, 12);
    h.writeUInt16LE(e.name.length, 26);
    h.writeUInt16LE(e.extra.length, 28);
    return Buffer.concat([h, e.name, e.extra]);
  }

  /** A directory entry (`name/`), so an empty Maildir `tmp/` survives. */
  async dir(name: string, mtimeMs = Date.now()): Promise<void> {
    const e: Entry = { name: Buffer.from(name.replace(/\/?$/, '/')), extra: unixTime(mtimeMs), offset: this.offset, crc: 0, size: 0, ...dosTime(mtimeMs), dir: true };
    await this.emit(this.header(e));
    await this.emit(this.descriptor(e));
    this.entries.push(e);
  }

  /** Starts a file; `write` its bytes, then `close` it. */
  async begin(name: string, mtimeMs = Date.now()): Promise<void> {
    if (this.open) throw new Error('zip: the previous entry is still open');
    const e: Entry = { name: Buffer.from(name), extra: unixTime(mtimeMs), offset: this.offset, crc: 0, size: 0, ...dosTime(mtimeMs), dir: false };
    this.open = e;
    await this.emit(this.header(e));
  }

  async write(data: Buffer): Promise<void> {
    const e = this.open;
    if (!e) throw new Error('zip: no entry is open');
    e.crc = crc32(data, e.crc);
    e.size += data.length;
    await this.emit(data);
  }

  async close(): Promise<void> {
    const e = this.open;
    if (!e) return;
    this.open = null;
    await this.emit(this.descriptor(e));
    this.entries.push(e);
  }

  private descriptor(e: Entry): Buffer {
    const d = Buffer.alloc(16);
    d.writeUInt32LE(0x08074b50, 0);
    d.writeUInt32LE(e.crc >>> 0, 4);
    d.writeUInt32LE(e.size, 8);
    d.writeUInt32LE(e.size, 12);
    return d;
  }

  /** Writes the central directory and the end record. */
  async finish(): Promise<void> {
    await this.close();
    const start = this.offset;
    for (const e of this.entries) {
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0 (so the modes below are read)
      c.writeUInt16LE(20, 6);
      c.writeUInt16LE(0x0808, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt16LE(e.time, 12);
      c.writeUInt16LE(e.date, 14);
      c.writeUInt32LE(e.crc >>> 0, 16);
      c.writeUInt32LE(e.size, 20);
      c.writeUInt32LE(e.size, 24);
      c.writeUInt16LE(e.name.length, 28);
      c.writeUInt16LE(e.extra.length, 30);
      // External attributes: Unix mode in the high 16 bits (0700 directories, 0600 files), MS-DOS directory bit.
      c.writeUInt32LE((((e.dir ? 0o040700 : 0o100600) << 16) | (e.dir ? 0x10 : 0)) >>> 0, 38);
      c.writeUInt32LE(e.offset, 42);
      await this.emit(Buffer.concat([c, e.name, e.extra]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(this.offset - start, 12);
    end.writeUInt32LE(start, 16);
    if (this.entries.length > 0xffff) throw new ZipTooLargeError();
    await this.emit(end);
  }
}
