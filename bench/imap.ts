/**
 * @module bench/imap
 * IMAP against a big mailbox, Haven beside Dovecot: INBOX holds --messages
 * (default 100,000) messages of about 2 KB from bench/lib/corpus; one
 * session times SELECT (cold, then warm), `UID FETCH 1:* (FLAGS)`,
 * `UID SEARCH TEXT` (1% hits, a whole word and a substring of it) and BODY[]
 * throughput over --body messages;
 * then --sessions (50) sessions run a mixed load for --seconds (60): fetch
 * of flags and envelopes, BODY[], STORE, APPEND, expunge of what they
 * appended, IDLE rounds and re-SELECTs. Prints commands per second, latency
 * and the server's peak memory during the load (PSS sampled every 0.5 s,
 * summed over Dovecot's processes so shared pages count once). Haven runs in a child process (bench/imap-node.ts) over a
 * store filled beforehand; Dovecot (Debian dovecot-imapd, when installed)
 * gets the same messages in a Maildir and its default settings (no FTS
 * plugin, so its TEXT search reads the messages).
 *
 *   npm run bench -- imap [--messages 100000] [--sessions 50] [--seconds 60] [--body 20000] [--no-dovecot]
 */
import { parseArgs } from 'node:util';
import { addAccount, makeTestStore } from '../test/helpers/store.js';
import { corpusMessage, NEEDLE } from './lib/corpus.js';
import { indexNow } from './lib/fill.js';
import { dovecotAvailable, startDovecot } from './lib/dovecot.js';
import { ImapClient } from './lib/imap-client.js';
import { withBenchNode } from './lib/node-child.js';
import { peakRssMb, resetPeak, rssMb } from './lib/rss.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    sessions: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    body: { type: 'string', default: '20000' },
    'no-dovecot': { type: 'boolean', default: false },
  },
});
const COUNT = Number(args.messages);
const SESSIONS = Number(args.sessions);
const SECONDS = Number(args.seconds);
const BODY = Math.min(Number(args.body), COUNT);

function* corpus(n: number): Generator<Buffer> {
  for (let i = 0; i < n; i++) yield corpusMessage(i);
}

interface Single {
  selectColdMs: number;
  selectWarmMs: number;
  fetchFlagsMs: number;
  searchMs: number;
  searchHits: number;
  substringMs: number;
  substringHits: number;
  bodyMBps: number;
  bodyMsgsPerSec: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

async function singleSession(port: number, user: string, pass: string): Promise<Single> {
  const c = await ImapClient.connect(port);
  await c.ok(`LOGIN ${user} "${pass}"`);
  const [selectColdMs, sel] = await timed(() => c.ok('SELECT INBOX', { keep: true }));
  const exists = Number(/\* (\d+) EXISTS/.exec(sel.lines.join('\n'))?.[1]);
  if (exists !== COUNT) throw new Error(`INBOX has ${exists} messages, expected ${COUNT}`);
  await c.ok('UNSELECT');
  const [selectWarmMs] = await timed(() => c.ok('SELECT INBOX'));
  const [fetchFlagsMs] = await timed(() => c.ok('UID FETCH 1:* (FLAGS)'));
  const [searchMs, found] = await timed(() => c.ok(`UID SEARCH TEXT ${NEEDLE}`, { keep: true }));
  const hits = (r: { lines: string[] }) => (r.lines.find((l) => l.startsWith('* SEARCH'))?.split(' ').length ?? 2) - 2;
  const searchHits = hits(found);
  // RFC 9051 §6.4.4 matches substrings: part of the word must find the same messages.
  const [substringMs, part] = await timed(() => c.ok(`UID SEARCH TEXT ${NEEDLE.slice(1, -1)}`, { keep: true }));
  const substringHits = hits(part);
  const b0 = c.bytes;
  const [bodyMs] = await timed(() => c.ok(`FETCH 1:${BODY} BODY.PEEK[]`));
  const bodyMBps = (c.bytes - b0) / 1e6 / (bodyMs / 1000);
  await c.ok('LOGOUT');
  c.close();
  return { selectColdMs, selectWarmMs, fetchFlagsMs, searchMs, searchHits, substringMs, substringHits, bodyMBps, bodyMsgsPerSec: BODY / (bodyMs / 1000) };
}

type Op = 'fetch' | 'body' | 'store' | 'append' | 'expunge' | 'idle' | 'select';
const MIX: [Op, number][] = [['fetch', 30], ['body', 25], ['store', 15], ['append', 10], ['expunge', 10], ['idle', 5], ['select', 5]];

interface Mixed {
  commands: number;
  perSec: number;
  p50: number;
  p99: number;
  byOp: Record<string, number>;
  errors: number;
}

async function mixedLoad(port: number, user: string, pass: string): Promise<Mixed> {
  const latencies: number[] = [];
  const byOp: Record<string, number> = {};
  let errors = 0;
  const clients = await Promise.all(
    Array.from({ length: SESSIONS }, async () => {
      const c = await ImapClient.connect(port);
      await c.ok(`LOGIN ${user} "${pass}"`);
      await c.ok('SELECT INBOX');
      return c;
    }),
  );
  const total = MIX.reduce((n, [, w]) => n + w, 0);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  await Promise.all(
    clients.map(async (c, k) => {
      const mine: number[] = [];
      let flagged = false;
      const run = async (op: string, fn: () => Promise<unknown>) => {
        const s = performance.now();
        try {
          await fn();
        } catch {
          errors++;
        }
        latencies.push(performance.now() - s);
        byOp[op] = (byOp[op] ?? 0) + 1;
      };
      while (performance.now() < deadline) {
        let pick = rand() * total;
        const op = MIX.find(([, w]) => (pick -= w) < 0)![0];
        const uid = 1 + Math.floor(rand() * COUNT);
        switch (op) {
          case 'fetch': await run(op, () => c.ok(`UID FETCH ${uid}:${uid + 49} (FLAGS ENVELOPE)`)); break;
          case 'body': await run(op, () => c.ok(`UID FETCH ${uid} BODY.PEEK[]`)); break;
          case 'store': await run(op, () => c.ok(`UID STORE ${uid} ${(flagged = !flagged) ? '+' : '-'}FLAGS.SILENT (\\Flagged)`)); break;
          case 'append':
            await run(op, async () => {
              const r = await c.ok('APPEND INBOX', { literal: corpusMessage(COUNT + k * 1_000_000 + mine.length) });
              const m = /APPENDUID \d+ (\d+)/.exec(r.text);
              if (m) mine.push(Number(m[1]));
            });
            break;
          case 'expunge': {
            const u = mine.shift();
            if (u === undefined) break;
            await run(op, () => c.ok(`UID STORE ${u} +FLAGS.SILENT (\\Deleted)`));
            await run(op, () => c.ok(`UID EXPUNGE ${u}`));
            break;
          }
          case 'idle': await run(op, () => c.idleOnce()); break;
          case 'select': await run(op, () => c.ok('SELECT INBOX')); break;
        }
      }
      await c.ok('LOGOUT').catch(() => undefined);
      c.close();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { commands: latencies.length, perSec: latencies.length / secs, p50: q(0.5), p99: q(0.99), byOp, errors };
}

interface Result {
  label: string;
  fillSecs: number;
  single: Single;
  mixed: Mixed;
  peakMb: number;
  idleMb: number;
  hwmMb: number;
  peakNote: string;
}

async function measure(label: string, pid: number, port: number, user: string, pass: string, fillSecs: number): Promise<Result> {
  const single = await singleSession(port, user, pass);
  report(label, single);
  const idleMb = rssMb(pid);
  const reset = resetPeak(pid);
  // Sampled as well as read from VmHWM: Dovecot's per-session processes are gone (peaks and all) by the end.
  let sampled = 0;
  const timer = setInterval(() => (sampled = Math.max(sampled, rssMb(pid))), 500);
  const mixed = await mixedLoad(port, user, pass).finally(() => clearInterval(timer));
  const hwm = peakRssMb(pid);
  const r = { label, fillSecs, single, mixed, peakMb: sampled, idleMb, hwmMb: hwm, peakNote: `PSS summed over its processes, sampled; peak RSS per process summed ${hwm.toFixed(0)} MB${reset ? '' : ' (since start)'}` };
  reportMixed(r);
  return r;
}

function report(label: string, s: Single): void {
  console.log(
    `${label}: SELECT ${s.selectColdMs.toFixed(0)} ms cold / ${s.selectWarmMs.toFixed(0)} ms warm; UID FETCH 1:* (FLAGS) ${s.fetchFlagsMs.toFixed(0)} ms; ` +
      `UID SEARCH TEXT ${s.searchMs.toFixed(0)} ms (${s.searchHits} hits), substring ${s.substringMs.toFixed(0)} ms (${s.substringHits} hits); BODY[] ${s.bodyMBps.toFixed(1)} MB/s (${s.bodyMsgsPerSec.toFixed(0)} msgs/s over ${BODY})`,
  );
}

function reportMixed(r: Result): void {
  const m = r.mixed;
  console.log(
    `${r.label}: ${SESSIONS} sessions x ${SECONDS} s mixed: ${m.perSec.toFixed(0)} commands/s (${m.commands}, ${m.errors} errors), ` +
      `p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms; peak memory ${r.peakMb.toFixed(0)} MB (${r.peakNote}; ${r.idleMb.toFixed(0)} MB before)`,
  );
}

async function haven(): Promise<Result> {
  const t = makeTestStore({ keyMode: 'managed' });
  try {
    const acct = await addAccount(t.store, 'bench@example.test', 'bench password long enough');
    const lease = await t.store.openMailbox(acct.account.id);
    const inbox = lease.mailbox.folders.require('INBOX').id;
    const f0 = performance.now();
    let batch: { raw: Buffer }[] = [];
    for (const raw of corpus(COUNT)) {
      batch.push({ raw });
      if (batch.length === 1000) {
        lease.mailbox.messages.appendMany(inbox, batch);
        batch = [];
      }
    }
    if (batch.length) lease.mailbox.messages.appendMany(inbox, batch);
    indexNow(lease.mailbox);
    lease.release();
    t.store.close();
    const fillSecs = (performance.now() - f0) / 1000;
    console.log(`Haven: filled INBOX with ${COUNT} messages in ${fillSecs.toFixed(1)} s`);

    return await withBenchNode('imap-node.ts', [t.dataDir, t.masterKey.toString('hex')], /^PORT (\d+)/, ({ ready, pid }) => measure('Haven', pid, Number(ready[1]), acct.address, acct.password, fillSecs));
  } finally {
    t.cleanup();
  }
}

async function dovecot(): Promise<Result | null> {
  if (args['no-dovecot']) return null;
  if (!dovecotAvailable('imap')) {
    console.log('dovecot not installed (apt-get install dovecot-imapd): no side-by-side figure');
    return null;
  }
  const f0 = performance.now();
  const dc = await startDovecot('imap', corpus(COUNT));
  const fillSecs = (performance.now() - f0) / 1000;
  console.log(`${dc.version}: wrote the Maildir in ${fillSecs.toFixed(1)} s (indexing happens at the first SELECT)`);
  try {
    return await measure(`Dovecot ${dc.version.split(' ')[0]}`, dc.pid, dc.port, dc.user, dc.pass, fillSecs);
  } finally {
    dc.stop();
  }
}

console.log(`${COUNT} messages, BODY[] over ${BODY}, ${SESSIONS} sessions x ${SECONDS} s; node ${process.version}`);
const results = [await haven()];
const d = await dovecot();
if (d) results.push(d);

const rows: [string, (r: Result) => string][] = [
  ['SELECT INBOX, cold (ms)', (r) => r.single.selectColdMs.toFixed(0)],
  ['SELECT INBOX, warm (ms)', (r) => r.single.selectWarmMs.toFixed(0)],
  ['UID FETCH 1:* (FLAGS) (ms)', (r) => r.single.fetchFlagsMs.toFixed(0)],
  ['UID SEARCH TEXT (ms)', (r) => r.single.searchMs.toFixed(0)],
  ['UID SEARCH TEXT, substring (ms)', (r) => r.single.substringMs.toFixed(0)],
  ['BODY[] (MB/s)', (r) => r.single.bodyMBps.toFixed(1)],
  [`mixed load, ${SESSIONS} sessions (commands/s)`, (r) => r.mixed.perSec.toFixed(0)],
  ['mixed load p50 / p99 (ms)', (r) => `${r.mixed.p50.toFixed(1)} / ${r.mixed.p99.toFixed(1)}`],
  ['peak memory under load, PSS (MB)', (r) => r.peakMb.toFixed(0)],
];
console.log('\n' + ''.padEnd(40) + results.map((r) => r.label.padStart(18)).join(''));
for (const [name, get] of rows) console.log(name.padEnd(40) + results.map((r) => get(r).padStart(18)).join(''));
