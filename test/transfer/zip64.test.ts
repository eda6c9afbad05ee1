/**
 * The streaming ZIP writer (node/transfer/zip.ts) against PKWARE's APPNOTE
 * 6.3.x, read back by independent readers: Info-ZIP's `unzip -t` (every
 * CRC-32 and the central directory), Python's `zipfile` (names, sizes,
 * offsets, versions, contents) and, for the bytes themselves, zipdetails.
 *
 * - §4.4.1.4 / §4.3.14 / §4.3.15: with 65,535 entries or more the plain end
 *   record's counts read 0xFFFF and the ZIP64 end record and its locator
 *   carry the real count.
 * - §4.3.9.2 / §4.5.3: an entry whose size is unknown at its header carries
 *   the ZIP64 extra field there, and its data descriptor has 8-byte sizes.
 * - §4.5.3: an entry that starts past 4 GiB has its offset in the ZIP64
 *   extra field of its central record; an entry of 4 GiB or more its sizes.
 * - A small archive stays plain: version needed 2.0, no ZIP64 record, so
 *   every reader opens it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ZipEntrySizeError, ZipWriter } from '../../node/transfer/zip.js';

const tmp = mkdtempSync(join(tmpdir(), 'haven-zip64-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SIG_EOCD64 = Buffer.from([0x50, 0x4b, 0x06, 0x06]);
const SIG_LOCATOR = Buffer.from([0x50, 0x4b, 0x06, 0x07]);
/** One MiB of zeros: handed to the writer again and again, and left as a hole in the file instead of written. */
const ZEROS = Buffer.alloc(1024 * 1024);

/** Runs `build` on a writer whose output goes to `path`; chunks that are ZEROS become holes (a sparse file), so 4 GiB costs no disk. */
async function zipFile(path: string, build: (z: ZipWriter) => Promise<void>): Promise<number> {
  const fd = openSync(path, 'w', 0o600);
  let at = 0;
  try {
    const z = new ZipWriter((chunk) => {
      if (chunk !== ZEROS) writeSync(fd, chunk, 0, chunk.length, at);
      at += chunk.length;
    });
    await build(z);
    await z.finish();
  } finally {
    closeSync(fd);
  }
  expect(statSync(path).size).toBe(at);
  return at;
}

interface PyEntry {
  name: string;
  size: number;
  offset: number;
  version: number;
  crc: number;
}

/**
 * Python's zipfile: every entry's name, size, local header offset, version needed and CRC-32; the `read` entries'
 * contents (base64); the `drain` entries read through to their end in 4 MiB steps (zipfile checks the CRC-32 at the
 * end and fails on a mismatch), giving the bytes read; `testzip` (every entry read and checked) unless `test` is false.
 */
function python(path: string, o: { read?: string[]; drain?: string[]; test?: boolean } = {}): { entries: PyEntry[]; contents: Record<string, string>; drained: Record<string, number>; bad: string | null } {
  const script = `
import base64, json, sys, zipfile
o = json.loads(sys.argv[2])
with zipfile.ZipFile(sys.argv[1]) as z:
    entries = [{"name": i.filename, "size": i.file_size, "offset": i.header_offset, "version": i.extract_version, "crc": i.CRC} for i in z.infolist()]
    contents = {n: base64.b64encode(z.read(n)).decode() for n in o["read"]}
    drained = {}
    for n in o["drain"]:
        with z.open(n) as f:
            drained[n] = 0
            while b := f.read(1 << 22):
                drained[n] += len(b)
    bad = z.testzip() if o["test"] else None
print(json.dumps({"entries": entries, "contents": contents, "drained": drained, "bad": bad}))
`;
  const opts = { read: o.read ?? [], drain: o.drain ?? [], test: o.test ?? true };
  return JSON.parse(execFileSync('python3', ['-c', script, path, JSON.stringify(opts)], { maxBuffer: 64 * 1024 * 1024 }).toString());
}

const unzipTest = (path: string, ...names: string[]) => execFileSync('unzip', ['-t', path, ...names], { maxBuffer: 64 * 1024 * 1024 }).toString();

describe('ZIP writer: plain where it can be', () => {
  it('a small archive is a version 2.0 ZIP with no ZIP64 record (APPNOTE §4.4.3.2)', async () => {
    const path = join(tmp, 'small.zip');
    await zipFile(path, async (z) => {
      await z.dir('mail/cur');
      await z.begin('mail/cur/1:2,S', { maxBytes: 5 });
      await z.write(Buffer.from('hello'));
      await z.close();
    });
    expect(unzipTest(path)).toMatch(/No errors detected/);
    const py = python(path, { read: ['mail/cur/1:2,S'] });
    expect(py.bad).toBeNull();
    expect(py.entries.map((e) => [e.name, e.version])).toEqual([
      ['mail/cur/', 20],
      ['mail/cur/1:2,S', 20],
    ]);
    expect(Buffer.from(py.contents['mail/cur/1:2,S'], 'base64').toString()).toBe('hello');
    const bytes = readFileSync(path);
    expect(bytes.includes(SIG_EOCD64)).toBe(false);
    expect(bytes.includes(SIG_LOCATOR)).toBe(false);
  });

  it('writing past the size declared at the header fails clearly instead of writing a ZIP that lies', async () => {
    const z = new ZipWriter(() => undefined);
    await z.begin('a', { maxBytes: 3 });
    await expect(z.write(Buffer.from('four'))).rejects.toBeInstanceOf(ZipEntrySizeError);
  });
});

describe('ZIP64 (APPNOTE 6.3.x)', () => {
  it('an entry of unknown size: ZIP64 extra field in its local header, 8-byte sizes in its data descriptor (§4.3.9.2, §4.5.3)', async () => {
    const path = join(tmp, 'unknown.zip');
    const body = Buffer.from('From a@b Sat Jan  1 00:00:00 2024\nSubject: x\n\nbody\n\n');
    await zipFile(path, async (z) => {
      await z.begin('mail/INBOX.mbox');
      await z.write(body);
      await z.close();
      await z.begin('manifest.json', { maxBytes: 2 });
      await z.write(Buffer.from('{}'));
      await z.close();
    });
    expect(unzipTest(path)).toMatch(/No errors detected/);
    const py = python(path, { read: ['mail/INBOX.mbox'] });
    expect(py.bad).toBeNull();
    expect(Buffer.from(py.contents['mail/INBOX.mbox'], 'base64')).toEqual(body);
    expect(py.entries.map((e) => [e.name, e.version])).toEqual([
      ['mail/INBOX.mbox', 45],
      ['manifest.json', 20],
    ]);
    // The bytes as APPNOTE lays them out: §4.3.7 local header (sizes -1, extra 0x0001 with both sizes), §4.3.9 descriptor.
    const b = readFileSync(path);
    expect(b.readUInt32LE(0)).toBe(0x04034b50);
    expect(b.readUInt16LE(4)).toBe(45);
    expect(b.readUInt16LE(6) & 0x0008).toBe(8);
    expect([b.readUInt32LE(18), b.readUInt32LE(22)]).toEqual([0xffffffff, 0xffffffff]);
    const nameLen = b.readUInt16LE(26);
    const extra = 30 + nameLen;
    expect([b.readUInt16LE(extra), b.readUInt16LE(extra + 2)]).toEqual([0x0001, 16]);
    const desc = extra + b.readUInt16LE(28) + body.length;
    expect(b.readUInt32LE(desc)).toBe(0x08074b50);
    expect(b.readUInt32LE(desc + 4)).toBe(py.entries[0].crc);
    expect([b.readBigUInt64LE(desc + 8), b.readBigUInt64LE(desc + 16)]).toEqual([BigInt(body.length), BigInt(body.length)]);
    // The next entry's local header follows the 24-byte descriptor, where the central directory says it is.
    expect(py.entries[1].offset).toBe(desc + 24);
    // zipdetails (Perl's IO::Compress) walks the same bytes and reads the descriptor as ZIP64.
    const walk = execFileSync('zipdetails', ['--utc', path]).toString();
    // (Its layout differs between versions: 2.104 in Debian 12, 4.004 in Debian 13; both name the signature, then CRC, then the 8-byte size.)
    expect(walk).toMatch(new RegExp(`08074B50[^\\n]*\\n[^\\n]*CRC[^\\n]*\\n[^\\n]*Compressed (Length|Size)\\s+${body.length.toString(16).toUpperCase().padStart(16, '0')}\\b`, 'i'));
    expect(walk).not.toMatch(/error|warning/i);
  });

  it('65,535 entries or more: counts in the ZIP64 end record and its locator, -1 in the plain one (§4.3.14, §4.3.15, §4.4.1.4)', async () => {
    const path = join(tmp, 'many.zip');
    const N = 70_000;
    await zipFile(path, async (z) => {
      for (let i = 0; i < N; i++) {
        const data = Buffer.from(`message ${i}\n`);
        await z.begin(`mail/cur/${i}:2,`, { maxBytes: data.length, mtimeMs: Date.UTC(2024, 0, 1) });
        await z.write(data);
        await z.close();
      }
    });
    const t = unzipTest(path);
    expect(t).toMatch(/No errors detected in compressed data/);
    expect(t.match(/^\s+testing: /gm)!.length).toBe(N);
    const py = python(path, { read: ['mail/cur/0:2,', 'mail/cur/69999:2,'] });
    expect(py.bad).toBeNull();
    expect(py.entries.length).toBe(N);
    expect(new Set(py.entries.map((e) => e.name)).size).toBe(N);
    expect(Buffer.from(py.contents['mail/cur/69999:2,'], 'base64').toString()).toBe('message 69999\n');
    // The tail: ZIP64 end record (56 bytes), locator (20), plain end record (22) with its counts at -1.
    const b = readFileSync(path);
    const end = b.length - 22;
    expect(b.readUInt32LE(end)).toBe(0x06054b50);
    expect([b.readUInt16LE(end + 8), b.readUInt16LE(end + 10)]).toEqual([0xffff, 0xffff]);
    expect(b.readUInt32LE(end - 20)).toBe(0x07064b50);
    const at = Number(b.readBigUInt64LE(end - 20 + 8));
    expect(at).toBe(end - 20 - 56);
    expect(b.readUInt32LE(at)).toBe(0x06064b50);
    expect(b.readBigUInt64LE(at + 32)).toBe(BigInt(N));
  }, 120_000);

  it('past 4 GiB: a 4 GiB + 1 MiB entry gets its sizes, the entry after it its offset in ZIP64 extra fields, the directory a ZIP64 end record (§4.5.3, §4.3.14)', async () => {
    const path = join(tmp, 'big.zip');
    const MIB = 4097;
    const after = Buffer.from('the message after 4 GiB\n');
    const size = await zipFile(path, async (z) => {
      await z.begin('first.txt', { maxBytes: 6 });
      await z.write(Buffer.from('first\n'));
      await z.close();
      await z.begin('mail/Archive.mbox');
      for (let i = 0; i < MIB; i++) await z.write(ZEROS);
      await z.close();
      await z.begin('after.txt', { maxBytes: after.length });
      await z.write(after);
      await z.close();
    });
    expect(size).toBeGreaterThan(2 ** 32);
    // Python reads the central directory through the ZIP64 end record, seeks past 4 GiB to the last entry's local
    // header, and reads the big entry to its end, checking its CRC-32 (4 GiB from the file's hole: memory, not disk).
    const py = python(path, { read: ['first.txt', 'after.txt'], drain: ['mail/Archive.mbox'], test: false });
    expect(py.entries.map((e) => [e.name, e.size, e.version])).toEqual([
      ['first.txt', 6, 20],
      ['mail/Archive.mbox', MIB * 1024 * 1024, 45],
      ['after.txt', after.length, 45],
    ]);
    expect(py.drained['mail/Archive.mbox']).toBe(MIB * 1024 * 1024);
    expect(py.entries[2].offset).toBeGreaterThan(2 ** 32);
    expect(Buffer.from(py.contents['after.txt'], 'base64')).toEqual(after);
    // Info-ZIP finds the entries on either side of it through the same ZIP64 records and checks them. (Its check
    // of all 4 GiB passes too, but takes 15 to 35 s of this test's budget; Python's read above covers that CRC.)
    const t = unzipTest(path, 'first.txt', 'after.txt');
    expect(t).toMatch(/testing: first\.txt\s+OK/);
    expect(t).toMatch(/testing: after\.txt\s+OK/);
    expect(t).toMatch(/No errors detected/);
  }, 120_000);
});
