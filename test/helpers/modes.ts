/**
 * @module test/helpers/modes
 * Walks a data directory and names every file that is not 0600 and every
 * directory that is not 0700 (issue 15: files private). TLS certificates are
 * the one exception: public by design, every client sees them.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const PUBLIC = /(^|\/)(cert|chain|fullchain)[^/]*\.pem$/;

export function walk(dir: string, out: { path: string; mode: number; dir: boolean }[] = []): { path: string; mode: number; dir: boolean }[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    out.push({ path: p, mode: st.mode & 0o777, dir: st.isDirectory() });
    if (st.isDirectory()) walk(p, out);
  }
  return out;
}

/** "relative/path mode" for each file or directory that is wider than it should be; [] when all are private. */
export function wrongModes(dataDir: string): string[] {
  const top = lstatSync(dataDir).mode & 0o777;
  return [...(top === 0o700 ? [] : [`. ${top.toString(8)}`]), ...walk(dataDir)
    .filter((f) => !PUBLIC.test(relative(dataDir, f.path)))
    .filter((f) => f.mode !== (f.dir ? 0o700 : 0o600))
    .map((f) => `${relative(dataDir, f.path)} ${f.mode.toString(8)}`)];
}
