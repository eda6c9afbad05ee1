/**
 * @module infra/tar
 * A ustar archive writer (POSIX.1-1988, as `pax` and GNU tar read it) for
 * the node's configuration bundle: regular files and their modes only,
 * owner root, mtime 0, so the same files always give the same bytes (and the
 * same hash in Pulumi's diff). Pure; the tests extract it with GNU tar.
 */

export interface TarFile {
  /** Relative path, '/'-separated, no '..'. */
  path: string;
  content: string | Uint8Array;
  /** e.g. 0o600. */
  mode: number;
}

export class TarError extends Error {
  override name = 'TarError';
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  // width - 1 digits and a NUL terminator.
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** Splits a path into ustar's prefix (155) and name (100) fields. */
function splitPath(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name };
  }
  throw new TarError(`${path} is too long for a tar entry (a file name of at most 100 bytes)`);
}

function header(path: string, mode: number, size: number): Buffer {
  if (path === '' || path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '' || p === '.')) {
    throw new TarError(`"${path}" is not a relative path without . or .. parts`);
  }
  const h = Buffer.alloc(BLOCK, 0);
  const { prefix, name } = splitPath(path);
  const put = (s: string, off: number) => h.write(s, off, 'utf8');
  put(name, 0);
  put(octal(mode & 0o7777, 8), 100);
  put(octal(0, 8), 108); // uid root
  put(octal(0, 8), 116); // gid root
  put(octal(size, 12), 124);
  put(octal(0, 12), 136); // mtime
  put('        ', 148); // checksum counted as spaces
  put('0', 156); // regular file
  put('ustar\0', 257);
  put('00', 263);
  put('root', 265);
  put('root', 297);
  put(prefix, 345);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** The archive: each file's header and content padded to 512 bytes, then two zero blocks. */
export function tar(files: readonly TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const body = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : Buffer.from(f.content);
    parts.push(header(f.path, f.mode, body.length), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}
