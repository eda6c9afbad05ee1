/**
 * @module node/upgrade/upgrade
 * `haven upgrade`: install a newer release, and either end up running it
 * with the data migrated, or end up exactly where we started.
 *
 *  1. stage the new release beside the current one (nothing active changes);
 *  2. make sure no node is writing: stop the service (--service) or refuse;
 *  3. take a verified local snapshot of every database;
 *  4. run the NEW release's `haven migrate --json`: its own code migrates and
 *     integrity-checks every database it can open — the health check of the
 *     data under the new code, in a separate process so a crash counts too;
 *  5. start it and wait for /health: without --service as a trial run of
 *     its own `haven start` (stopped again afterwards), then switch
 *     `current`; with --service switch `current` and start the unit;
 *  6. anything unhealthy: stop it, put the snapshot back, switch `current`
 *     back, start the old release again, and report why.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { askReplication as askNode } from '../admin/control.js';
import { linkedRelease, pruneReleases, runningRelease, setLink, stageRelease, type ReleaseInfo, type StageOptions } from './release.js';
import { restoreSnapshot, takeVerifiedSnapshot, type SnapshotManifest } from './snapshot.js';
import type { MigrateReport } from './migrate.js';
import { dataOwner } from './owner.js';

export interface UpgradeOptions extends StageOptions {
  /** Where releases live (`<root>/releases`, `<root>/current`). */
  root: string;
  /** npm spec (tarball, git URL#ref, registry name) or a prepared release directory. */
  source: string;
  dataDir: string;
  masterKey: Buffer;
  /** Environment for the new release's processes (the HAVEN_* settings). */
  env: Record<string, string | undefined>;
  /** Passed on to the new release as --config. */
  configFile?: string;
  /** systemd unit to stop, start and health-check (e.g. haven.service). */
  service?: string;
  /** Where the started node answers /health (https://127.0.0.1:8443/health). */
  healthUrl?: string;
  healthTimeoutMs?: number;
  /** Says whether a node is still running on the data (see running.ts); default: its control socket only. */
  isRunning?: () => Promise<string | null>;
  /** Without a service: skip the trial `haven start` + /health of the new release (migrations are still checked). */
  noTrialStart?: boolean;
  /** Upgrade even when the new release has the same version. */
  force?: boolean;
  say?: (line: string) => void;
}

export type UpgradeResult =
  | { outcome: 'upgraded'; from: ReleaseInfo; to: ReleaseInfo; snapshot: string; migrate: MigrateReport }
  | { outcome: 'unchanged'; current: ReleaseInfo }
  | { outcome: 'rolled-back'; from: ReleaseInfo; attempted: ReleaseInfo; snapshot: string; reason: string };

export class UpgradeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpgradeError';
  }
}

export async function upgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const say = o.say ?? (() => {});
  mkdirSync(o.root, { recursive: true });
  const from = linkedRelease(o.root, 'current') ?? runningRelease();
  say(`upgrade: current release ${from.version} (${from.dir})`);
  // Without a service to stop, a running node is a mistake: say so before downloading anything.
  if (!o.service) await refuseIfRunning(o);
  const to = stageRelease(o.root, o.source, o);
  say(`upgrade: staged release ${to.version} (${to.dir})`);
  if (to.version === from.version && !o.force) {
    rmSync(join(o.root, 'releases', relName(o.root, to.dir)), { recursive: true, force: true });
    return { outcome: 'unchanged', current: from };
  }

  if (o.service) {
    say(`upgrade: stopping ${o.service}`);
    systemctl('stop', o.service);
  }
  await refuseIfRunning(o);

  const snapshot = join(o.root, 'snapshots', new Date().toISOString().replace(/[:.]/g, '-'));
  let manifest: SnapshotManifest;
  try {
    manifest = await takeVerifiedSnapshot(o.dataDir, snapshot, o.masterKey, from.version);
  } catch (err) {
    rmSync(snapshot, { recursive: true, force: true });
    if (o.service) systemctl('start', o.service);
    throw new UpgradeError(`no upgrade: the snapshot before it failed (${(err as Error).message})`);
  }
  say(`upgrade: verified snapshot of ${manifest.files.length} database(s) in ${snapshot}`);

  const rollback = async (reason: string): Promise<UpgradeResult> => {
    say(`upgrade: ${to.version} is unhealthy (${reason}); rolling back to ${from.version}`);
    if (o.service) systemctl('stop', o.service, true);
    restoreSnapshot(snapshot, o.dataDir);
    setLink(o.root, 'current', from.dir);
    if (o.service) systemctl('start', o.service, true);
    say(`upgrade: rolled back; data restored from ${snapshot}, release ${from.version} active`);
    return { outcome: 'rolled-back', from, attempted: to, snapshot, reason };
  };

  say(`upgrade: running ${to.version}'s migrations and checks`);
  const m = runRelease(to, ['migrate', '--json'], o, dataOwner(o.dataDir));
  let report: MigrateReport;
  try {
    if (m.status !== 0) return await rollback(`haven migrate exited ${m.status ?? m.signal}: ${lastLine(m.stderr)}`);
    report = JSON.parse(lastLine(m.stdout)) as MigrateReport;
    if (!report.ok) return await rollback('haven migrate did not report ok');
  } catch (err) {
    return rollback(`haven migrate printed no report (${(err as Error).message})`);
  }
  say(`upgrade: migrated ${report.databases.map((d) => `${d.db}@${d.userVersion}`).join(', ')}${report.deferred ? `; ${report.deferred} zero-access mailbox(es) migrate at their owners' next login` : ''}`);

  if (!o.service && !o.noTrialStart) {
    say(`upgrade: trial start of ${to.version}`);
    const trial = await trialStart(to, o, dataOwner(o.dataDir), o.healthTimeoutMs ?? 60_000);
    if (trial !== true) return rollback(`trial start: ${trial}`);
    say(`upgrade: ${to.version} started and answered /health`);
  }
  setLink(o.root, 'previous', from.dir);
  setLink(o.root, 'current', to.dir);
  if (o.service) {
    systemctl('start', o.service, true);
    const url = o.healthUrl ?? 'https://127.0.0.1:8443/health';
    say(`upgrade: waiting for ${url}`);
    const healthy = await waitHealthy(url, o.healthTimeoutMs ?? 60_000);
    if (healthy !== true) return rollback(`${url}: ${healthy}`);
  }
  pruneReleases(o.root);
  pruneSnapshots(join(o.root, 'snapshots'), 3);
  say(`upgrade: now running ${to.version}`);
  return { outcome: 'upgraded', from, to, snapshot, migrate: report };
}

async function refuseIfRunning(o: UpgradeOptions): Promise<void> {
  const running = o.isRunning ? await o.isRunning() : (await askNode(o.dataDir, { cmd: 'status' }, 5_000)) ? 'its control socket' : null;
  if (running) {
    throw new UpgradeError(`a node is still running on ${o.dataDir} (${running} answers); stop it first, or pass --service <unit> so the upgrade stops and starts it`);
  }
}

/** Runs a release's own `haven` with the node's settings, as the data's owner when that is not us. */
export function runRelease(rel: ReleaseInfo, args: string[], o: Pick<UpgradeOptions, 'env' | 'configFile'>, owner: { uid: number; gid: number } | null = null) {
  const argv = [join(rel.dir, 'bin', 'haven.js'), ...args, ...(o.configFile ? ['--config', o.configFile] : [])];
  return spawnSync(process.execPath, argv, { cwd: rel.dir, env: { ...process.env, ...o.env }, encoding: 'utf8', timeout: 300_000, ...(owner ?? {}) });
}

/**
 * Runs the release's `haven start` with the node's settings until its
 * HTTPS listener (read from the banner, so port 0 works too) answers
 * /health, then stops it with SIGTERM. True, or why not.
 */
export async function trialStart(rel: ReleaseInfo, o: Pick<UpgradeOptions, 'env' | 'configFile'>, owner: { uid: number; gid: number } | null, timeoutMs: number): Promise<true | string> {
  const argv = [join(rel.dir, 'bin', 'haven.js'), 'start', ...(o.configFile ? ['--config', o.configFile] : [])];
  const child = spawn(process.execPath, argv, { cwd: rel.dir, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}) });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /^\s+https\s+(\S+):(\d+)\s/.exec(line);
        if (!m) return;
        clearTimeout(timer);
        const host = m[1] === '0.0.0.0' || m[1] === '[::]' ? '127.0.0.1' : m[1];
        resolve(`https://${host}:${m[2]}/health`);
      });
      void exited.then(() => resolve(null));
    });
    if (!url) return `it did not start (${child.exitCode !== null ? `exit ${child.exitCode}` : 'no HTTPS listener announced'}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
    const healthy = await waitHealthy(url, timeoutMs);
    return healthy === true ? true : `${url}: ${healthy}`;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    }
  }
}

function systemctl(verb: 'start' | 'stop', unit: string, quiet = false): void {
  const r = spawnSync('systemctl', [verb, unit], { encoding: 'utf8' });
  if (r.status !== 0 && !quiet) throw new UpgradeError(`systemctl ${verb} ${unit} failed: ${(r.stderr || String(r.error ?? '')).trim()}; run it by hand, then the upgrade again`);
}

/**
 * Polls a /health URL (self-signed certificates accepted: it is our own node
 * on loopback). Healthy is 200, or a 503 whose report says the store itself
 * answers: /health also turns 503 for things outside the release (the replica
 * down, a certificate near expiry, a full disk), and rolling back a good
 * release for those would only add a second restart.
 */
export async function waitHealthy(url: string, timeoutMs: number): Promise<true | string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    last = await new Promise<string>((resolve) => {
      const req = request(url, { rejectUnauthorized: false, timeout: 5_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body = (body + d).slice(0, 65_536)));
        res.on('end', () => {
          if (res.statusCode === 200) return resolve('ok');
          let storeOk = false;
          try {
            storeOk = (JSON.parse(body) as { store?: { ok?: boolean } }).store?.ok === true;
          } catch {
            /* not a health report */
          }
          resolve(res.statusCode === 503 && storeOk ? 'ok' : `HTTP ${res.statusCode}`);
        });
      });
      req.on('error', (err) => resolve(err.message));
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.end();
    });
    if (last === 'ok') return true;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return `not healthy within ${Math.round(timeoutMs / 1000)} s (last: ${last})`;
}

function pruneSnapshots(dir: string, keep: number): void {
  if (!existsSync(dir)) return;
  const all = readdirSync(dir).sort();
  for (const d of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(dir, d), { recursive: true, force: true });
}

function relName(root: string, pkgDir: string): string {
  return pkgDir.slice(realpathSync(join(root, 'releases')).length + 1).split('/')[0];
}

function lastLine(s: string | null | undefined): string {
  const lines = (s ?? '').trim().split('\n');
  return lines[lines.length - 1] ?? '';
}
