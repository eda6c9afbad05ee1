/**
 * @module bench/imap-accounts
 * IMAP load spread over many accounts, Haven beside Dovecot: --accounts
 * (100) accounts each holding --messages (500) messages of about 2 KB from
 * bench/lib/corpus; --clients (10) clients loop for --seconds (30), each
 * round logging in as a random account and running a short command
 * sequence (LOGIN, SELECT INBOX, UID FETCH of 20 messages' FLAGS and
 * ENVELOPE, one BODY.PEEK[], a STORE of \Flagged, UID SEARCH UNSEEN, LOGOUT)
 * on a new connection. Prints commands per second (every command counts,
 * LOGIN and LOGOUT included), logins per second, p50/p99, the server's CPU
 * time per command (its process tree, from /proc: steadier than the rate on
 * a shared machine) and both ratios.
 *
 * `--memory-limit 1G` runs Haven's node (only the node: the bench fills the
 * accounts before it starts) inside that limit with swap forbidden
 * (bench/lib/memory-limit: systemd-run, cgroup v2 or v1, whichever works;
 * needs root), and prints the limit, the mechanism, the cgroup's peak usage,
 * how often the limit was met, OOM kills, swap used and the node's peak RSS.
 *
 * Haven runs as deployed: zero-access mode, so the first login to an
 * account since its mailbox closed derives the key from the password
 * (scrypt); later logins are cached while the mailbox is open. Dovecot runs
 * as deployed too: passwords hashed with SHA512-CRYPT, its auth cache on,
 * login processes in high-performance mode.
 *
 *   npm run bench -- imap-accounts [--accounts 100] [--messages 500] [--clients 10] [--seconds 30] [--no-dovecot] [--memory-limit 1G]
 */
import { parseArgs } from 'node:util';
import { addAccount, makeTestStore } from '../test/helpers/store.js';
import { corpusMessage } from './lib/corpus.js';
import { indexNow } from './lib/fill.js';
import { dovecotAvailable, startDovecot } from './lib/dovecot.js';
import { ImapClient } from './lib/imap-client.js';
import { cpuSeconds } from './lib/cpu.js';
import { describeReading, memoryLimit, parseSize } from './lib/memory-limit.js';
import { withBenchNode } from './lib/node-child.js';
import { peakRssMb, resetPeak } from './lib/rss.js';

const { values: args } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100' },
    messages: { type: 'string', default: '500' },
    clients: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
    'no-dovecot': { type: 'boolean', default: false },
    'memory-limit': { type: 'string' },
  },
});
const ACCOUNTS = Number(args.accounts);
const COUNT = Number(args.messages);
const CLIENTS = Number(args.clients);
const SECONDS = Number(args.seconds);
const PASSWORD = 'bench password long enough';
const MEMORY_LIMIT = args['memory-limit'] === undefined ? undefined : parseSize(args['memory-limit']);

/** Account a's messages: a slice of the corpus, so every account differs. */
function* messagesOf(a: number): Generator<Buffer> {
  for (let i = 0; i < COUNT; i++) yield corpusMessage(a * COUNT + i);
}

interface Load {
  commands: number;
  logins: number;
  perSec: number;
  loginsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  peakMb: number;
  /** Server CPU time (its whole process tree) per command, ms: steadier than commands/s on a shared machine. */
  cpuMs: number;
}

async function load(port: number, user: (a: number) => string, pid: number): Promise<Load> {
  const latencies: number[] = [];
  let errors = 0;
  let logins = 0;
  let seed = 4242;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  resetPeak(pid);
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline) {
        const a = Math.floor(rand() * ACCOUNTS);
        const uid = 1 + Math.floor(rand() * (COUNT - 20));
        const c = await ImapClient.connect(port);
        const run = async (cmd: string) => {
          const s = performance.now();
          try {
            await c.ok(cmd);
          } catch {
            errors++;
          }
          latencies.push(performance.now() - s);
        };
        await run(`LOGIN ${user(a)} "${PASSWORD}"`);
        logins++;
        await run('SELECT INBOX');
        await run(`UID FETCH ${uid}:${uid + 19} (FLAGS ENVELOPE)`);
        await run(`UID FETCH ${uid} BODY.PEEK[]`);
        await run(`UID STORE ${uid} ${rand() < 0.5 ? '+' : '-'}FLAGS.SILENT (\\Flagged)`);
        await run('UID SEARCH UNSEEN');
        await run('LOGOUT');
        c.close();
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpuMs = ((cpuSeconds(pid) - cpu0) * 1000) / Math.max(1, latencies.length);
  latencies.sort((x, y) => x - y);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { commands: latencies.length, logins, perSec: latencies.length / secs, loginsPerSec: logins / secs, p50: q(0.5), p99: q(0.99), errors, peakMb: peakRssMb(pid), cpuMs };
}

function describe(label: string, l: Load): string {
  return `${label.padEnd(16)} ${l.perSec.toFixed(0).padStart(6)} commands/s  ${l.loginsPerSec.toFixed(0).padStart(4)} logins/s  p50 ${l.p50.toFixed(1)} ms  p99 ${l.p99.toFixed(1)} ms  CPU ${l.cpuMs.toFixed(2)} ms/command  (${l.commands} commands, ${l.errors} errors; peak RSS ${l.peakMb.toFixed(0)} MB)`;
}

async function haven(): Promise<Load> {
  const t = makeTestStore();
  try {
    const f0 = performance.now();
    for (let a = 0; a < ACCOUNTS; a++) {
      await addAccount(t.store, `user${a}@example.test`, PASSWORD);
      const lease = await t.store.authenticate(`user${a}@example.test`, PASSWORD);
      const inbox = lease.mailbox.folders.require('INBOX').id;
      lease.mailbox.messages.appendMany(inbox, [...messagesOf(a)].map((raw) => ({ raw })));
      indexNow(lease.mailbox);
      lease.release();
    }
    t.store.close();
    console.log(`Haven: ${ACCOUNTS} accounts x ${COUNT} messages filled in ${((performance.now() - f0) / 1000).toFixed(1)} s`);
    const limit = MEMORY_LIMIT === undefined ? null : memoryLimit(MEMORY_LIMIT);
    try {
      return await withBenchNode(
        'imap-node.ts',
        [t.dataDir, t.masterKey.toString('hex'), 'zero-access'],
        /^PORT (\d+)/,
        async ({ ready, pid }) => {
          if (limit && !limit.holds(pid)) throw new Error(`imap-node (pid ${pid}) is not inside ${limit.where()}`);
          try {
            return await load(Number(ready[1]), (a) => `user${a}@example.test`, pid);
          } finally {
            // Also when the load failed (an OOM kill among the reasons): read while the node's cgroup still exists.
            if (limit) for (const l of describeReading(limit, limit.read(pid))) console.log(l);
          }
        },
        { wrap: limit ? (argv) => limit.wrap(argv) : undefined },
      );
    } finally {
      limit?.close();
    }
  } finally {
    t.cleanup();
  }
}

async function dovecot(): Promise<[string, Load] | null> {
  if (args['no-dovecot']) return null;
  if (!dovecotAvailable('imap')) {
    console.log('dovecot not installed (apt-get install dovecot-imapd): no side-by-side figure');
    return null;
  }
  const users = Array.from({ length: ACCOUNTS }, (_, a) => `user${a}`);
  const dc = await startDovecot('imap', [], { users, pass: PASSWORD, messages: (a) => messagesOf(a) });
  try {
    return [dc.version.split(' ')[0], await load(dc.port, (a) => users[a], dc.pid)];
  } finally {
    dc.stop();
  }
}

console.log(`IMAP over ${ACCOUNTS} accounts x ${COUNT} messages, ${CLIENTS} clients x ${SECONDS} s, a login per 7-command round; node ${process.version}`);
const h = await haven();
console.log(describe('haven', h));
const d = await dovecot();
if (d) {
  console.log(describe(`dovecot ${d[0]}`, d[1]));
  console.log(`ratio haven / dovecot: ${(h.perSec / d[1].perSec).toFixed(2)}x commands/s; server CPU per command ${(h.cpuMs / d[1].cpuMs).toFixed(2)}x dovecot's`);
}
