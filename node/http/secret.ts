/**
 * @module node/http/secret
 * The admin API's shared secret: `admin.secret` from the config, or on a
 * local run (empty) one generated once into <dataDir>/admin-secret (0600),
 * so the edge served from Node next to the node can read the same file.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ADMIN_SECRET_FILE = 'admin-secret';

export function adminSecret(config: { dataDir: string; admin: { secret: string } }): { secret: string; generated: boolean; file?: string } {
  if (config.admin.secret) return { secret: config.admin.secret, generated: false };
  const file = join(config.dataDir, ADMIN_SECRET_FILE);
  try {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return { secret: s, generated: false, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('hex');
  // wx: two processes starting at once must not overwrite each other's secret.
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { secret: readFileSync(file, 'utf8').trim(), generated: false, file };
    throw err;
  }
  return { secret, generated: true, file };
}
