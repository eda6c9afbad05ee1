/**
 * @module node/upgrade/release
 * Releases side by side under one root, the active one behind a symlink:
 *
 *   <root>/releases/<version>-<time>/   one installed release each
 *   <root>/current  -> the active release's package directory
 *   <root>/previous -> the one before it (what a rollback returns to)
 *
 * A release is what npm installs, so one installer handles every form a
 * self-hoster has: an `npm pack` tarball (file or URL, what a GitHub release
 * attaches), a git URL with a ref (`git+https://…/haven.git#v0.2.0`), or a
 * registry spec; npm resolves the dependencies the way the server's
 * cloud-init installed the first release. A directory holding a prepared
 * release (a checkout after `npm ci`, with or without `npm run build`) is
 * copied as it is, so an offline machine can upgrade from a copy it was
 * given. Switching is one atomic rename of a symlink.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ReleaseInfo {
  /** The package directory (holds package.json and bin/haven.js). */
  dir: string;
  version: string;
}

export class ReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReleaseError';
  }
}

export function readRelease(dir: string): ReleaseInfo {
  const pkgPath = join(dir, 'package.json');
  if (!existsSync(pkgPath)) throw new ReleaseError(`${dir} is not a Haven release (no package.json)`);
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { name?: string; version?: string };
  if (pkg.name !== 'haven' || !pkg.version) throw new ReleaseError(`${dir} is not a Haven release (package.json names ${JSON.stringify(pkg.name)})`);
  if (!existsSync(join(dir, 'bin', 'haven.js'))) throw new ReleaseError(`${dir} has no bin/haven.js; it is not a complete release`);
  return { dir: realpathSync(dir), version: pkg.version };
}

/** The release this code belongs to: what runs when nothing was installed under the root yet. */
export function runningRelease(): ReleaseInfo {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'haven.js'))) return readRelease(dir);
    const up = dirname(dir);
    if (up === dir) throw new ReleaseError('cannot find the running release\'s package.json');
    dir = up;
  }
}

export function linkedRelease(root: string, name: 'current' | 'previous'): ReleaseInfo | null {
  const link = join(root, name);
  try {
    lstatSync(link);
  } catch {
    return null;
  }
  return readRelease(realpathSync(link));
}

/** Points `<root>/<name>` at a package directory, atomically. */
export function setLink(root: string, name: 'current' | 'previous', target: string): void {
  const tmp = join(root, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, join(root, name));
}

export interface StageOptions {
  /** Extra words for npm (tests point it at a registry or cache; none by default). */
  npmArgs?: string[];
}

/** Installs a release under `<root>/releases/` (not active yet). */
export function stageRelease(root: string, source: string, opts: StageOptions = {}): ReleaseInfo {
  const releases = join(root, 'releases');
  mkdirSync(releases, { recursive: true });
  const stage = join(releases, `.staging-${process.pid}-${Date.now()}`);
  rmSync(stage, { recursive: true, force: true });
  try {
    let pkgDir: string;
    const local = resolve(source);
    if (existsSync(local) && statSync(local).isDirectory()) {
      readRelease(local);
      cpSync(local, stage, { recursive: true, verbatimSymlinks: true, filter: (src) => !SKIP.has(basename(src)) && !basename(src).startsWith('.tmp') });
      pkgDir = stage;
      if (!existsSync(join(stage, 'node_modules'))) npm(stage, ['ci', '--omit=dev', '--no-audit', '--no-fund', ...(opts.npmArgs ?? [])]);
    } else {
      mkdirSync(stage, { recursive: true });
      npm(stage, ['install', '--prefix', stage, '--omit=dev', '--no-audit', '--no-fund', '--install-links', ...(opts.npmArgs ?? []), source]);
      pkgDir = join(stage, 'node_modules', 'haven');
    }
    const info = readRelease(pkgDir);
    const final = join(releases, `${info.version}-${Date.now().toString(36)}`);
    renameSync(stage, final);
    return readRelease(pkgDir === stage ? final : join(final, 'node_modules', 'haven'));
  } catch (err) {
    rmSync(stage, { recursive: true, force: true });
    throw err;
  }
}

/** Keeps the newest `keep` releases plus whatever current and previous point at. */
export function pruneReleases(root: string, keep = 3): string[] {
  const releases = join(root, 'releases');
  if (!existsSync(releases)) return [];
  const inUse = new Set(['current', 'previous'].map((n) => safeReal(join(root, n))).filter((x): x is string => x !== null));
  const dirs = readdirSorted(releases).filter((d) => !d.startsWith('.'));
  const removed: string[] = [];
  for (const d of dirs.slice(0, Math.max(0, dirs.length - keep))) {
    const full = join(releases, d);
    if ([...inUse].some((u) => u === full || u.startsWith(full + '/'))) continue;
    rmSync(full, { recursive: true, force: true });
    removed.push(full);
  }
  return removed;
}

const SKIP = new Set(['.git', 'data', 'coverage', 'test-artifacts', '.pulumi']);

function npm(cwd: string, args: string[]): void {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    const tail = `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new ReleaseError(`npm ${args[0]} failed (${tail || `exit ${r.status}`}); check the release source and network, then run the upgrade again`);
  }
}

function safeReal(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** Entries oldest first (by modification time), so pruning keeps the newest. */
function readdirSorted(dir: string): string[] {
  return readdirSync(dir).sort((a, b) => statSync(join(dir, a)).mtimeMs - statSync(join(dir, b)).mtimeMs);
}
