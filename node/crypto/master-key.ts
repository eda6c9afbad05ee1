/**
 * @module node/crypto/master-key
 * The node's master key encrypts the directory, the spool and (in managed
 * mode only) wraps mailbox keys. In production it arrives from outside the
 * data directory (a systemd credential file or the environment) so a copy of
 * the data directory alone is useless; only a local run generates one into
 * the data directory, and says so.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

/** Accepts 64 hex characters or base64 / base64url of 32 bytes. */
export function parseMasterKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
  if (key.length !== 32) {
    throw new MasterKeyError(`master key from ${source} is not 32 bytes (give 64 hex characters or base64 of 32 bytes; make one with: openssl rand -hex 32)`);
  }
  return key;
}

export interface MasterKeySource {
  /** HAVEN_MASTER_KEY value, if any. */
  value?: string;
  /** Path to a file holding the key (e.g. $CREDENTIALS_DIRECTORY/master-key). */
  file?: string;
  /** Where a local run may generate and keep one. */
  localFile: string;
  /** Whether generating a local key is allowed (never in production). */
  allowGenerate: boolean;
}

export interface LoadedMasterKey {
  key: Buffer;
  origin: 'env' | 'file' | 'local-file' | 'generated';
  warning?: string;
}

export function loadMasterKey(src: MasterKeySource): LoadedMasterKey {
  if (src.value) return { key: parseMasterKey(src.value, 'HAVEN_MASTER_KEY'), origin: 'env' };
  if (src.file) {
    if (!existsSync(src.file)) throw new MasterKeyError(`master key file ${src.file} does not exist; create it (openssl rand -hex 32 > ${src.file}) or unset HAVEN_MASTER_KEY_FILE`);
    return { key: parseMasterKey(readFileSync(src.file, 'utf8'), src.file), origin: 'file' };
  }
  if (existsSync(src.localFile)) {
    return {
      key: parseMasterKey(readFileSync(src.localFile, 'utf8'), src.localFile),
      origin: 'local-file',
      warning: `using the master key stored in the data directory (${src.localFile}); fine for a local run, but in production deliver it with HAVEN_MASTER_KEY_FILE from outside the data directory`,
    };
  }
  if (!src.allowGenerate) {
    throw new MasterKeyError('no master key: set HAVEN_MASTER_KEY or HAVEN_MASTER_KEY_FILE (make one with: openssl rand -hex 32)');
  }
  const key = randomBytes(32);
  mkdirSync(dirname(src.localFile), { recursive: true, mode: 0o700 });
  writeFileSync(src.localFile, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return {
    key,
    origin: 'generated',
    warning: `generated a master key at ${src.localFile} for this local run; in production deliver it from outside the data directory (HAVEN_MASTER_KEY_FILE)`,
  };
}
