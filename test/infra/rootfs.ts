/**
 * @module test/infra/rootfs
 * A Debian 13 (trixie) root filesystem built by `mmdebstrap` (Debian's
 * package), for running the server's first-boot script for real. Building
 * one downloads ~150 MB and takes about two minutes, so the tarball is kept
 * in a cache directory keyed by everything that goes into it (suite,
 * variant, mirror, package list): $HAVEN_ROOTFS_CACHE, else
 * ~/.cache/haven/rootfs. A changed package list builds a new one and
 * removes the old.
 *
 * Commands run in it through `unshare --mount` (so every mount vanishes with
 * the process, even if the test dies) and `chroot`, with /proc mounted and
 * the given directories bound in.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SUITE = 'trixie';
export const MIRROR = 'http://deb.debian.org/debian';
const VARIANT = 'minbase';

export function rootfsCacheDir(): string {
  return process.env.HAVEN_ROOTFS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'haven', 'rootfs');
}

/** The cached tarball for these packages, built first when missing. Returns its path. */
export async function debianRootfs(packages: readonly string[]): Promise<string> {
  const list = [...new Set(packages)].sort();
  const key = createHash('sha256').update(JSON.stringify({ suite: SUITE, variant: VARIANT, mirror: MIRROR, list })).digest('hex').slice(0, 16);
  const dir = rootfsCacheDir();
  const file = join(dir, `${SUITE}-${key}.tar`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  // Built under another name and renamed, so an interrupted build never passes for a finished one.
  const partial = join(dir, `.building-${process.pid}-${key}.tar`);
  try {
    await run(
      'mmdebstrap',
      [`--variant=${VARIANT}`, '--aptopt=APT::Install-Recommends "false"', `--include=${list.join(',')}`, SUITE, partial, MIRROR],
      { maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (err) {
    rmSync(partial, { force: true });
    const e = err as { stderr?: string };
    throw new Error(`mmdebstrap could not build the ${SUITE} root filesystem: ${(e.stderr ?? String(err)).slice(-2000)}`);
  }
  renameSync(partial, file);
  for (const old of readdirSync(dir)) if (old !== `${SUITE}-${key}.tar` && old.endsWith('.tar') && !old.startsWith('.building-')) rmSync(join(dir, old), { force: true });
  return file;
}

export interface ChrootResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` inside `root` as root (or `asUser`, through setpriv in the
 * root's own passwd), with a clean environment plus `env`, /proc mounted and
 * each `binds` source mounted at its target (a path inside the root).
 */
export function inRoot(root: string, argv: string[], opts: { env?: Record<string, string>; binds?: [string, string][]; asUser?: string; stdin?: string } = {}): Promise<ChrootResult> {
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...opts.env };
  const mounts = [`mount -t proc proc "$R/proc"`, ...(opts.binds ?? []).map((_, i) => `mount --bind "$B${i}" "$R$T${i}"`)].join(' && ');
  const vars: Record<string, string> = { R: root };
  (opts.binds ?? []).forEach(([src, target], i) => {
    vars[`B${i}`] = src;
    vars[`T${i}`] = target;
  });
  const user = opts.asUser ? ['setpriv', `--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, '--init-groups', '--'] : [];
  const script = `${mounts} && exec chroot "$R" /usr/bin/env -i "$@"`;
  const args = ['--mount', '--propagation', 'private', '--fork', '--', 'sh', '-c', script, 'sh', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...user, ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', args, { env: { ...process.env, ...vars }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}
