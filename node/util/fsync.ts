/**
 * @module node/util/fsync
 * Flushing to disk the way every durable write in the node needs it: a file's
 * data, and the directory entry that names it (a file created or renamed is
 * only durable once its directory is flushed too).
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Flushes the directory that holds `file`, so a create or rename of it survives a crash. */
export function fsyncDir(file: string): void {
  const fd = openSync(dirname(file), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes a file's data written through another descriptor. */
export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Every byte of `data` written to `path` (created 0600) and fsynced; its name is the caller's to make durable. */
export function writeSynced(path: string, data: Buffer): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write to a temporary name, fsync, rename, fsync the directory: the file is whole or absent. */
export function writeDurable(path: string, data: Buffer): void {
  const tmp = `${path}.tmp`;
  writeSynced(tmp, data);
  renameSync(tmp, path);
  fsyncDir(path);
}
