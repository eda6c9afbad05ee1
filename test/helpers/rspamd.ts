/**
 * @module test/helpers/rspamd
 * A real rspamd (Debian `rspamd`) with its own Redis (`redis-server`) for
 * tests and benches: config in a temp dir on free loopback ports, no
 * systemd. Bayes learns after one message of each class (min_learns = 1);
 * modules that reach the internet are off, DNS goes to the test's own
 * server, and otherwise it is set up as a Haven server's (the modules it
 * switches off, as many scanner processes). Compiled regexps are cached in one directory under the system
 * temp dir across runs, so only the first start pays for compiling them.
 * Resolves once both workers answer /ping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { RSPAMD_MODULES_OFF, RSPAMD_SCANNERS } from '../../infra/cloud-init.js';

export interface TestRspamd {
  url: string;
  controllerUrl: string;
  /** The main process (its workers are its children), for a bench to read their CPU time. */
  pid: number;
  /** Its Redis (Bayes statistics), likewise. */
  redisPid: number;
  stop(): Promise<void>;
}

/** Modules that would reach the internet (tests have none), and those a Haven server switches off (infra/cloud-init.ts). */
const NETWORK = ['fuzzy_check', 'rbl', 'asn', 'phishing', 'dmarc_report', 'url_redirector', 'metadata_exporter', 'clickhouse', 'elastic'];
const OFF = [...new Set([...NETWORK, ...RSPAMD_MODULES_OFF.map((m) => m.module)])];

async function ping(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return r.ok && (await r.text()).trim() === 'pong';
  } catch {
    return false;
  }
}

function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
    setTimeout(() => c.kill('SIGKILL'), 5000).unref();
  });
}

/** `scanners`: normal worker processes, by default as many as a Haven server runs (a bench may try others). */
export async function startRspamd(opts: { dnsPort: number; startTimeoutMs?: number; scanners?: number }): Promise<TestRspamd> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-rspamd-'));
  const hsCache = join(tmpdir(), 'haven-rspamd-hs-cache');
  mkdirSync(hsCache, { recursive: true, mode: 0o700 });
  for (const d of ['local.d', 'override.d', 'db', 'run']) mkdirSync(join(dir, d), { mode: 0o700 });
  const [normal, controller, redisPort] = [await freePort(), await freePort(), await freePort()];

  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', join(dir, 'db')], { stdio: 'ignore' });
  writeFileSync(
    join(dir, 'rspamd.conf'),
    `.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  .include "$CONFDIR/options.inc"
  .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/options.inc"
}
logging { type = "console"; level = "error"; }
worker "normal" { bind_socket = "127.0.0.1:${normal}"; .include "$CONFDIR/worker-normal.inc"; count = ${opts.scanners ?? RSPAMD_SCANNERS}; }
worker "controller" { bind_socket = "127.0.0.1:${controller}"; .include "$CONFDIR/worker-controller.inc" }
`,
  );
  writeFileSync(join(dir, 'local.d', 'redis.conf'), `servers = "127.0.0.1:${redisPort}";\n`);
  writeFileSync(join(dir, 'override.d', 'classifier-bayes.conf'), 'min_learns = 1;\n');
  writeFileSync(join(dir, 'override.d', 'options.inc'), `dns { nameserver = ["127.0.0.1:${opts.dnsPort}"]; timeout = 0.5s; retransmits = 1; }\nhs_cache_dir = "${hsCache}/";\n`);
  for (const m of OFF) writeFileSync(join(dir, 'local.d', `${m}.conf`), 'enabled = false;\n');

  const user = process.getuid?.() === 0 ? ['-u', 'root', '-g', 'root'] : [];
  const rspamd = spawn(
    'rspamd',
    ['-f', '-c', join(dir, 'rspamd.conf'), `--var=LOCAL_CONFDIR=${dir}`, `--var=DBDIR=${join(dir, 'db')}`, `--var=RUNDIR=${join(dir, 'run')}`, ...user],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  rspamd.stderr!.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${normal}`;
  const controllerUrl = `http://127.0.0.1:${controller}`;
  const stop = async () => {
    await stopChild(rspamd);
    await stopChild(redis);
    rmSync(dir, { recursive: true, force: true });
  };
  // Waiting for a condition, not a time: the first start on a machine compiles regexps for a while.
  const deadline = Date.now() + (opts.startTimeoutMs ?? 240_000);
  while (!((await ping(url)) && (await ping(controllerUrl)))) {
    if (rspamd.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`rspamd did not start: ${stderr.slice(-2000) || `exit ${rspamd.exitCode}`}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, controllerUrl, pid: rspamd.pid!, redisPid: redis.pid!, stop };
}
