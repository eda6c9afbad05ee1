/**
 * @module bench/import
 * haven import's throughput from a local Dovecot (Debian dovecot-imapd):
 * a throwaway Dovecot serves N messages of about 10 KB from a Maildir, and
 * `haven import imap://…` (the real CLI in its own process, holding a fresh
 * data directory, as a user runs it when no node runs) pulls them over
 * loopback IMAP into an encrypted mailbox. The bench prints messages per
 * second, MB/s, and the importing process's RSS once its job runs and its
 * peak (VmHWM, read from /proc every 50 ms). Targets (issue 18): at least
 * 500 messages/s for 10 KB messages; RSS under 200 MB for a 2 GB mailbox.
 *
 *   npm run bench -- import [--messages 5000] [--kb 10] [--folders 1] [--concurrency 1]
 *   npm run bench -- import --mb 2048 --kb 200     (a 2 GB mailbox: --mb sets the count)
 *   npm run bench -- import --node-flags=--heap-prof (flags for the importing process)
 *   npm run bench -- import --through-node [--mb 2048 --kb 200]
 *
 * --through-node starts the node (`haven start`, every listener on port 0)
 * on the data directory first, so the CLI hands the import to it over the
 * control socket and the job runs inside the node, as on a server: the
 * bench then prints the node's RSS (once the job runs, and its peak while
 * it runs) and the largest event-loop lag its watchdog saw (GET /health),
 * since the node serves sessions meanwhile.
 *
 * --from dist (the default) builds first and runs dist/, as a release does;
 * --from source runs through tsx, which adds about 40 MB of RSS. With
 * --folders N the messages are spread over N folders, so --concurrency has
 * folders to share out.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { connect, type Socket } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OPTIONS } from '../node/config/index.js';
import { dovecotAvailable, startDovecot } from './lib/dovecot.js';

const { values: args } = parseArgs({
  options: { messages: { type: 'string', default: '5000' }, kb: { type: 'string', default: '10' }, mb: { type: 'string' }, folders: { type: 'string', default: '1' }, concurrency: { type: 'string', default: '1' }, from: { type: 'string', default: 'dist' }, 'node-flags': { type: 'string', default: '' }, 'through-node': { type: 'boolean', default: false } },
});
if (args.from !== 'dist' && args.from !== 'source') throw new Error('--from expects dist or source');
/** Flags for the importing Node process (e.g. --max-semi-space-size=2), to see what moves its memory. */
const NODE_FLAGS = args['node-flags'] ? args['node-flags'].split(' ') : [];
const KB = Number(args.kb);
const COUNT = args.mb ? Math.ceil((Number(args.mb) * 1024) / KB) : Number(args.messages);
const FOLDERS = Number(args.folders);
const CONCURRENCY = Number(args.concurrency);

function message(i: number): Buffer {
  const head = [`From: Sender ${i} <sender${i}@example.net>`, 'To: alice@example.test', `Subject: Import benchmark ${i}`, 'Date: Sat, 28 Nov 2026 10:00:00 +0000', `Message-ID: <import-${i}@example.net>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', ''];
  const line = `${i} `.padEnd(76, 'abcdefghijklmnopqrstuvwxyz0123456789 ');
  return Buffer.from([...head, ...Array.from({ length: Math.round((KB * 1024) / 78) }, () => line), ''].join('\r\n'));
}

if (!dovecotAvailable('imap')) {
  console.error('dovecot-imapd is not installed (apt-get install dovecot-imapd): no source to import from');
  process.exit(2);
}
// Built before Dovecot starts: a failed build must not leave a Dovecot running.
const root = join(import.meta.dirname, '..');
// The importing process is `haven import` itself, as a user runs it: from the build (what a release runs; tsx adds ~40 MB) unless --from source.
let entry = [join(root, 'bin', 'haven.js')];
if (args.from === 'dist') {
  const b = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (b.status !== 0) throw new Error('npm run build failed');
  entry = [join(root, 'dist', 'node', 'cli.js')];
}
// Generated one at a time into Dovecot's Maildir, so this process never holds the mailbox.
let totalBytes = 0;
const dovecot = await startDovecot(
  'imap',
  (function* () {
    for (let i = 0; i < COUNT; i++) {
      const m = message(i);
      totalBytes += m.length;
      yield m;
    }
  })(),
  undefined,
  // Folder k holds every FOLDERS-th message; folder 0 is INBOX.
  (i) => (i % FOLDERS === 0 ? null : `Folder${i % FOLDERS}`),
);
const MB = (kb: number) => (kb / 1024).toFixed(0);
const work = mkdtempSync(join(tmpdir(), 'haven-bench-import-'));
const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HAVEN_DATA_DIR: join(work, 'data') };
const THROUGH_NODE = args['through-node'];
const haven = (argv: string[], stdin: string) => {
  const r = spawnSync(process.execPath, [...entry, ...argv], { env, input: stdin });
  if (r.status !== 0) throw new Error(`haven ${argv.join(' ')}: ${r.stderr.toString()}`);
};
let nodeProc: ChildProcess | null = null;
/** The worst event-loop lag the node's watchdog saw since it started (GET /health; its own self-signed certificate, nothing to check it against here). */
function worstLag(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    httpsGet({ host: '127.0.0.1', port, path: '/health', rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve((JSON.parse(body) as { eventLoop: { maxLagMs: number | null } }).eventLoop.maxLagMs ?? 0));
    }).on('error', reject);
  });
}
/**
 * Another client's view of the node while it imports: NOOP after NOOP on a
 * plain IMAP connection (RFC 9051 §6.1.2: valid before login, changes
 * nothing), one every 5 ms at most (the node refuses more than 500 commands
 * a second), each round trip recorded. The watchdog's worst lag is one
 * event; these say how often and how long sessions waited.
 */
function noopProbe(port: number): { stop(): number[] } {
  const rtts: number[] = [];
  let stopped = false;
  let socket: Socket | null = null;
  const run = async () => {
    while (!stopped) {
      // A new connection when the node closed the last (an unauthenticated session has a time limit).
      const s = (socket = connect({ host: '127.0.0.1', port }));
      s.setNoDelay(true);
      let buf = '';
      let wake: (() => void) | null = null;
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        wake?.();
      });
      s.on('close', () => wake?.());
      s.on('error', () => undefined);
      const until = (re: RegExp) => new Promise<boolean>((r) => ((wake = () => (re.test(buf) ? r(true) : s.destroyed ? r(false) : undefined)), wake()));
      if (!(await until(/^\* OK/m))) continue;
      for (let tag = 0, last = 0; !stopped && !s.destroyed; tag++) {
        const pause = last + 5 - performance.now();
        if (pause > 0) await new Promise((r) => setTimeout(r, pause));
        buf = '';
        const t0 = (last = performance.now());
        s.write(`N${tag} NOOP\r\n`);
        if (await until(new RegExp(`^N${tag} OK`, 'm'))) rtts.push(performance.now() - t0);
      }
      s.destroy();
    }
  };
  void run();
  return {
    stop() {
      stopped = true;
      socket?.destroy();
      return rtts;
    },
  };
}
/** `haven start` on the bench's data directory, every listener on port 0; resolves with its pid and HTTP port once it is ready. */
async function startNode(): Promise<{ pid: number; https: number; imap: number }> {
  const ports: NodeJS.ProcessEnv = { HAVEN_DNSBL: '' };
  for (const name of Object.keys(OPTIONS.ports)) ports[`HAVEN_PORTS_${name.toUpperCase()}`] = '0';
  const proc = spawn(process.execPath, [...entry, 'start'], { env: { ...env, ...ports }, stdio: ['ignore', 'pipe', 'ignore'] });
  nodeProc = proc;
  let out = '';
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`haven start exited ${code}: ${out}`)));
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!/^ready;/m.test(out)) return;
      const https = /^ {2}https +127\.0\.0\.1:(\d+) /m.exec(out);
      const imap = /^ {2}imap +127\.0\.0\.1:(\d+) /m.exec(out);
      if (!https || !imap) reject(new Error(`no https or imap port in the banner: ${out}`));
      else resolve({ pid: proc.pid!, https: Number(https[1]), imap: Number(imap[1]) });
    });
  });
}
try {
  const password = 'bench account password';
  haven(['domain', 'add', 'example.test'], '');
  haven(['account', 'add', 'alice@example.test', '--password-stdin'], `${password}\n`);
  const node = THROUGH_NODE ? await startNode() : null;
  const url = `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`;
  const child = spawn(process.execPath, [...NODE_FLAGS, ...entry, 'import', 'alice@example.test', url, '--insecure', '--password-stdin', '--source-password-stdin', '--json', '--concurrency', String(CONCURRENCY)], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(`${password}\n${dovecot.pass}\n`);
  const status = (field: 'VmRSS' | 'VmHWM', pid = child.pid) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0);
  // Its RSS once the job runs with the mailbox open and nothing imported yet (the first progress line), and its peak, read every 50 ms.
  let base = 0;
  let peak = 0;
  // The node's: its RSS when the job starts, and the most it reaches while the job runs (its VmHWM counts its start-up too).
  let nodeBase = 0;
  let nodePeak = 0;
  /** The node's peak while the first half of the messages went in: a second half that peaks no higher is a bound, not a leak. */
  let nodePeakFirstHalf = 0;
  let lagBefore = 0;
  let probe: ReturnType<typeof noopProbe> | null = null;
  let started = 0;
  let last: { phase: string; messages: number; error: string | null } | null = null;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, status('VmHWM'));
      if (node && started) {
        nodePeak = Math.max(nodePeak, status('VmRSS', node.pid));
        if ((last?.messages ?? 0) < COUNT / 2) nodePeakFirstHalf = nodePeak;
      }
    } catch {
      /* exited */
    }
  }, 50);
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      last = JSON.parse(l) as typeof last;
      if (!started) {
        started = performance.now();
        base = status('VmRSS');
        if (node) {
          nodeBase = nodePeak = status('VmRSS', node.pid);
          void worstLag(node.https).then((ms) => (lagBefore = ms));
          probe = noopProbe(node.imap);
        }
      }
    }
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const s = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const rtts = (probe as ReturnType<typeof noopProbe> | null)?.stop() ?? [];
  const end = last as { phase: string; messages: number; error: string | null } | null;
  if (code !== 0 || end?.phase !== 'done') throw new Error(`import ${end?.phase ?? 'did not start'} (exit ${code}): ${end?.error ?? ''}`);
  if (end.messages !== COUNT) throw new Error(`imported ${end.messages} of ${COUNT}`);
  console.log(`dovecot ${dovecot.version}, ${COUNT} messages of ~${KB} KB (${(totalBytes / 1_048_576).toFixed(1)} MB) in ${FOLDERS} folder(s); haven import --concurrency ${CONCURRENCY} from ${args.from}${node ? ', run inside the node' : ''}${NODE_FLAGS.length ? ` (node ${NODE_FLAGS.join(' ')})` : ''}; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`);
  console.log(`import: ${(COUNT / s).toFixed(0)} messages/s, ${(totalBytes / 1_048_576 / s).toFixed(1)} MB/s, ${s.toFixed(1)} s`);
  if (node) {
    const lagAfter = await worstLag(node.https);
    console.log(`RSS of the node, which ran the job: ${MB(nodeBase)} MB once the job runs; peak (VmRSS every 50 ms) ${MB(nodePeakFirstHalf)} MB over the first half of the messages, ${MB(nodePeak)} MB over all`);
    console.log(`the node's event loop, worst lag (its watchdog, GET /health): ${lagBefore} ms from its start to the job's, ${lagAfter} ms by the end${lagAfter > lagBefore ? ' (so during the import)' : ' (none worse during the import)'}`);
    const sorted = [...rtts].sort((a, b) => a - b);
    const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1);
    const over = (ms: number) => (sorted.filter((x) => x > ms).reduce((a, b) => a + b, 0) / 1000 / s) * 100;
    console.log(`another client's IMAP NOOP during the import (${sorted.length} round trips): p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, worst ${at(1)} ms; it waited in round trips over 50 ms for ${over(50).toFixed(0)}% of the import, over 100 ms for ${over(100).toFixed(0)}%`);
    console.log(`RSS of the haven import CLI (only asks and prints): ${MB(base)} MB, peak ${MB(peak)} MB`);
  } else console.log(`RSS of the haven import process: ${MB(base)} MB once the job runs (mailbox open, nothing imported), peak ${MB(peak)} MB (VmHWM)`);
} finally {
  (nodeProc as ChildProcess | null)?.kill('SIGTERM');
  dovecot.stop();
  rmSync(work, { recursive: true, force: true });
}
