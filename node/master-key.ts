/**
 * @module node/master-key
 * The node's master key as the config names it: HAVEN_MASTER_KEY, the file
 * in masterKeyFile, or (a local run) <dataDir>/master.key, generated only
 * while the data directory holds no directory database. Shared by
 * node/main.ts and the `haven` commands so both find the same key and fail
 * with the same advice.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config/index.js';
import { loadMasterKey, MasterKeyError, type LoadedMasterKey } from './crypto/index.js';

/** Where a local run keeps its generated master key (never used in production: masterKeyFile is set there). */
export const LOCAL_MASTER_KEY_FILE = 'master.key';
export { DIRECTORY_FILE } from './store/layout.js';
import { DIRECTORY_FILE } from './store/layout.js';

export function hasDirectory(config: Config): boolean {
  return existsSync(join(config.dataDir, DIRECTORY_FILE));
}

export function masterKeyFor(config: Config, opts: { allowGenerate: boolean }): LoadedMasterKey {
  const localFile = join(config.dataDir, LOCAL_MASTER_KEY_FILE);
  const configured = config.masterKey !== '' || config.masterKeyFile !== '';
  if (!configured && hasDirectory(config) && !existsSync(localFile)) {
    // Making a new key here would be worse than useless: it cannot open what the old one encrypted.
    throw new MasterKeyError(
      `${config.dataDir} holds encrypted data but its master key is missing (no ${localFile}, no masterKey or masterKeyFile); put the key file back or set HAVEN_MASTER_KEY_FILE to it`,
    );
  }
  return loadMasterKey({
    value: config.masterKey || undefined,
    file: config.masterKeyFile || undefined,
    localFile,
    allowGenerate: opts.allowGenerate && !hasDirectory(config),
  });
}
