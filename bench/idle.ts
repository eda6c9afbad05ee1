/**
 * @module bench/idle
 * DESIGN's idle target: a node holding --mailboxes (1,000) accounts, each
 * with mail in its mailbox, idles under 150 MB RSS. The node is the real
 * one (`haven start`, every listener on port 0), run twice: from the
 * compiled dist/ as a release runs it (built here first), and through tsx as
 * `npm start` in a checkout runs it. Accounts are made through the store
 * while the node is stopped (65 ms each: the password KDF), one message
 * delivered to each; then RSS and PSS are sampled for --seconds after the
 * node says it is ready, once before any client and once after logging in
 * to --logins of the mailboxes over IMAP (their mailboxes opened, then left
 * idle).
 *
 * `--memory-limit 1G` starts each measured node inside that limit with swap
 * forbidden (bench/lib/memory-limit; a shell joins the cgroup and execs node,
 * so the node is inside before it opens anything; needs root) and prints the
 * limit, the mechanism, the cgroup's peak, how often the limit was met, OOM
 * kills, swap used and the node's peak RSS.
 *
 *   npm run bench -- idle [--mailboxes 1000] [--logins 50] [--seconds 10] [--memory-limit 1G]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SERVICE_ENV } from '../infra/cloud-init.js';
import { OPTIONS, testConfig } from '../node/config/index.js';
import { masterKeyFor } from '../node/master-key.js';
import { Store } from '../node/store/index.js';
import { sampleMessage } from '../test/helpers/store.js';
import { ImapClient } from './lib/imap-client.js';
import { describeReading, memoryLimit, parseSize, type MemoryLimit } from './lib/memory-limit.js';
import { currentRssMb, rssMb } from './lib/rss.js';
import { indexNow } from './lib/fill.js';

const { values: args } = parseArgs({
  options: {
    mailboxes: { type: 'string', default: '1000' },
    logins: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    'memory-limit': { type: 'string' },
  },
});
const MAILBOXES = Number(args.mailboxes);
const LOGINS = Math.min(Number(args.logins), MAILBOXES);
const SECONDS = Number(args.seconds);
const MEMORY_LIMIT = args['memory-limit'] === undefined ? undefined : parseSize(args['memory-limit']);
const ROOT = join(import.meta.dirname, '..');
const PASSWORD = 'idle bench password, long enough';
const dir = mkdtempSync(join(tmpdir(), 'haven-bench-idle-'));
const dataDir = join(dir, 'data');

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAVEN_')) e[k] = v;
  for (const name of Object.keys(OPTIONS.ports)) e[`HAVEN_PORTS_${name.toUpperCase()}`] = '0';
  return { ...e, HAVEN_DATA_DIR: dataDir, HAVEN_DNSBL: '', HAVEN_LOG_LEVEL: 'warn', HAVEN_KEY_MODE: 'managed', ...extra };
}

interface Running {
  proc: ChildProcess;
  imapPort: number;
  stop(): Promise<void>;
}

/** Starts `haven start` from `entry` (inside `limit` when given) and resolves once it prints its ready line. */
function start(entry: string[], extra: Record<string, string> = {}, limit?: MemoryLimit): Promise<Running> {
  const argv = [process.execPath, ...entry];
  const [cmd, ...rest] = limit ? limit.wrap(argv) : argv;
  const proc = spawn(cmd, rest, { cwd: ROOT, env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let imapPort = 0;
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      const m = /^ {2}imap\s+127\.0\.0\.1:(\d+)\s/.exec(l);
      if (m) imapPort = Number(m[1]);
      if (l.startsWith('ready;')) resolve({ proc, imapPort, stop: () => (proc.kill('SIGTERM'), exited) });
    });
    void exited.then(() => reject(new Error(`haven start exited before it was ready:\n${stderr}`)));
  });
}

async function sample(pid: number): Promise<{ rss: number; pss: number }> {
  let pss = 0;
  let rss = 0;
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) {
    pss = Math.max(pss, rssMb(pid));
    rss = Math.max(rss, currentRssMb(pid));
    await new Promise((r) => setTimeout(r, 500));
  }
  return { rss, pss };
}

async function measure(label: string, entry: string[], extra: Record<string, string> = {}): Promise<string[]> {
  const limit = MEMORY_LIMIT === undefined ? undefined : memoryLimit(MEMORY_LIMIT);
  const node = await start(entry, extra, limit).catch((err) => {
    limit?.close();
    throw err;
  });
  try {
    if (limit && !limit.holds(node.proc.pid!)) throw new Error(`the node (pid ${node.proc.pid}) is not inside ${limit.where()}`);
    const idle = await sample(node.proc.pid!);
    // One after another (a node takes 20 connections per address): each mailbox stays open after LOGOUT until the store's idle close.
    for (let i = 0; i < LOGINS; i++) {
      const c = await ImapClient.connect(node.imapPort);
      await c.ok(`LOGIN user${i}@idle.example "${PASSWORD}"`);
      await c.ok('SELECT INBOX');
      await c.ok('LOGOUT');
      c.close();
    }
    const after = await sample(node.proc.pid!);
    console.log(`${label}: idle ${idle.rss.toFixed(0)} MB RSS (${idle.pss.toFixed(0)} MB PSS); after ${LOGINS} logins and SELECTs, idle again: ${after.rss.toFixed(0)} MB RSS (${after.pss.toFixed(0)} MB PSS)`);
    return [idle.rss.toFixed(0), after.rss.toFixed(0)];
  } finally {
    // Read while the node runs: a systemd scope goes with its last process.
    if (limit) for (const l of describeReading(limit, limit.read(node.proc.pid!))) console.log(`  ${l}`);
    await node.stop();
    limit?.close();
  }
}

try {
  console.log(`${MAILBOXES} mailboxes, ${LOGINS} logins, sampled ${SECONDS} s; node ${process.version}`);
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  // First boot makes the data directory and its master key; then the accounts go in while the node is stopped.
  await (await start(['bin/haven.js', 'start'])).stop();
  const config = testConfig(dataDir, { keyMode: 'managed' });
  const store = Store.open({ dataDir, masterKey: masterKeyFor(config, { allowGenerate: false }).key, keyMode: 'managed' });
  const t0 = performance.now();
  store.directory.addDomain('idle.example');
  for (let i = 0; i < MAILBOXES; i++) {
    const { account } = await store.createAccount(`user${i}@idle.example`, PASSWORD);
    const lease = await store.openMailbox(account.id);
    lease.mailbox.messages.append(lease.mailbox.folders.require('INBOX').id, sampleMessage({ subject: `hello ${i}` }));
    indexNow(lease.mailbox);
    lease.release();
  }
  store.close();
  console.log(`made ${MAILBOXES} accounts with one message each in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const rows: [string, string[]][] = [
    ['compiled, as the systemd unit runs it', await measure('compiled (dist/), with the systemd unit\'s environment', ['dist/node/cli.js', 'start'], { ...SERVICE_ENV })],
    ['compiled, glibc defaults', await measure('compiled (dist/), glibc defaults', ['dist/node/cli.js', 'start'])],
    ['tsx (npm start), glibc defaults', await measure('tsx (npm start in a checkout)', ['bin/haven.js', 'start'])],
  ];
  console.log(`\n${''.padEnd(44)}${'idle RSS (MB)'.padStart(16)}${`after ${LOGINS} logins`.padStart(18)}`);
  for (const [name, [idle, after]] of rows) console.log(`${name.padEnd(44)}${idle.padStart(16)}${after.padStart(18)}`);
  console.log('target (DESIGN): idle under 150 MB RSS with 1,000 mailboxes');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
