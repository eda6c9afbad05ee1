/**
 * @module bench/smtp
 * SMTP ingest: N messages of about 10 KB sent over P parallel SMTP sessions
 * (one connection each, messages back to back) to the MX running in a child
 * process, into encrypted mailboxes (unlocked by default; `--locked` sends
 * them to the sealed spool as for logged-out zero-access owners). Every 250
 * means durable. SPF/DKIM/DMARC are checked against a loopback DNS server.
 * Prints messages per second, p50/p99 time to the final 250, and the node's
 * peak RSS (VmHWM).
 *
 *   npx tsx bench/smtp.ts [--messages 2000] [--sessions 10] [--locked]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { runChild } from '../test/helpers/child.js';
import { startTestDns } from '../test/helpers/dns-server.js';
import { addAccount, makeTestStore } from '../test/helpers/store.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '10' },
    accounts: { type: 'string', default: '10' },
    locked: { type: 'boolean', default: false },
  },
});
const COUNT = Number(args.messages);
const SESSIONS = Number(args.sessions);
const ACCOUNTS = Number(args.accounts);
const PASSWORD = 'correct horse battery';

function message(i: number, to: string): Buffer {
  const head = [
    `From: Sender ${i} <sender${i}@sender.test>`,
    `To: ${to}`,
    `Subject: Benchmark message ${i}`,
    'Date: Sat, 28 Nov 2026 10:00:00 +0000',
    `Message-ID: <bench-${i}@sender.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
  ];
  const line = `Message ${i}: the quick brown fox jumps over the lazy dog, again and again. `.padEnd(76, '.');
  const body = Array.from({ length: 130 }, () => line);
  return Buffer.from([...head, ...body, ''].join('\r\n'));
}

function connect(port: number): Promise<SMTPConnection> {
  return new Promise((resolve, reject) => {
    const c = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, name: 'client.sender.test', logger: false });
    c.once('error', reject);
    c.connect(() => resolve(c));
  });
}

function send(c: SMTPConnection, from: string, to: string, raw: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    c.send({ from, to: [to] }, raw, (err, info) => (err ? reject(err) : resolve(info.response)));
  });
}

function reset(c: SMTPConnection): Promise<void> {
  return new Promise((resolve, reject) => c.reset((err) => (err ? reject(err) : resolve())));
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const t = makeTestStore();
const dns = await startTestDns();
dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] });
const addresses: string[] = [];
for (let i = 0; i < ACCOUNTS; i++) {
  addresses.push(`user${i}@example.test`);
  await addAccount(t.store, addresses[i], PASSWORD);
}
t.store.close();
const child = runChild(join(import.meta.dirname, 'smtp-node.ts'), [t.dataDir, t.masterKey.toString('hex'), String(dns.port), PASSWORD, args.locked ? '0' : '1', ...addresses]);
const line = await child.waitFor((l) => l.startsWith('PORT ') || l.startsWith('__exit__'));
if (!line.startsWith('PORT ')) throw new Error(`node failed to start: ${line}`);
const port = Number(line.split(' ')[1]);

const latencies: number[] = [];
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: SESSIONS }, async () => {
    const c = await connect(port);
    for (;;) {
      const i = next++;
      if (i >= COUNT) break;
      const to = addresses[i % addresses.length];
      const raw = message(i, to);
      const t0 = performance.now();
      const res = await send(c, `sender${i}@sender.test`, to, raw);
      latencies.push(performance.now() - t0);
      if (!res.startsWith('250')) throw new Error(`unexpected reply: ${res}`);
      await reset(c);
    }
    c.quit();
  }),
);
const seconds = (performance.now() - started) / 1000;
const status = readFileSync(`/proc/${child.proc.pid}/status`, 'utf8');
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
// tsx runs the node as a grandchild: report the biggest process in the tree.
let peakKb = hwm;
for (const pid of readFileSync(`/proc/${child.proc.pid}/task/${child.proc.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+) kB/.exec(s)?.[1] ?? 0));
}
latencies.sort((a, b) => a - b);
console.log(`smtp ingest: ${COUNT} messages (~${(message(0, addresses[0]).length / 1024).toFixed(1)} KB) over ${SESSIONS} sessions into ${ACCOUNTS} ${args.locked ? 'locked (sealed spool)' : 'unlocked'} mailboxes`);
console.log(`  ${(COUNT / seconds).toFixed(0)} msgs/s   p50 ${pct(latencies, 50).toFixed(1)} ms   p99 ${pct(latencies, 99).toFixed(1)} ms   (MAIL FROM to final 250)`);
console.log(`  node peak RSS ${(peakKb / 1024).toFixed(0)} MB   total ${seconds.toFixed(1)} s`);
child.proc.kill('SIGTERM');
await child.exited;
await dns.close();
t.cleanup();
