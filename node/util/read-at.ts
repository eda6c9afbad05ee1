/**
 * @module node/util/read-at
 * Reading a byte range of a file in one call, however many reads it takes:
 * fewer bytes come back only at the end of the file.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** `length` bytes at `position` of an open file (fewer only at its end). */
export function readFd(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

export function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    return readFd(fd, offset, length);
  } finally {
    closeSync(fd);
  }
}
