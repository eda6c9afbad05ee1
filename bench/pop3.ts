/**
 * @module bench/pop3
 * RETR throughput: 10,000 messages of about 10 KB in one maildrop, fetched
 * over a loopback POP3 connection one at a time and pipelined (RFC 2449
 * PIPELINING), over TCP and TLS, from a server in its own process
 * (bench/pop3-node.ts). Prints messages per second and MB/s. When
 * Debian's dovecot-pop3d is installed (apt-get install dovecot-pop3d), the
 * same client then runs against a throwaway Dovecot serving the same
 * messages from a Maildir, for the side-by-side figure.
 *
 *   npm run bench -- pop3 [--messages 10000] [--window 32] [--no-dovecot]
 *
 * HAVEN_BENCH_CPU_PROF=<dir> writes a CPU profile of the Haven server there.
 */
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { addAccount, makeTestStore, testTls } from '../test/helpers/store.js';
import { dovecotAvailable, startDovecot } from './lib/dovecot.js';
import { indexNow } from './lib/fill.js';
import { withBenchNode } from './lib/node-child.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    window: { type: 'string', default: '32' },
    'no-dovecot': { type: 'boolean', default: false },
  },
});
const COUNT = Number(args.messages);
const WINDOW = Number(args.window);

/** A ~10 KB message of 76-character lines, unique per index. */
export function benchMessage(i: number): Buffer {
  const head = [
    `From: Sender ${i} <sender${i}@example.net>`,
    'To: alice@example.test',
    `Subject: Benchmark message ${i}`,
    'Date: Sat, 28 Nov 2026 10:00:00 +0000',
    `Message-ID: <bench-${i}@example.net>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
  ];
  const line = `${i} `.padEnd(76, 'abcdefghijklmnopqrstuvwxyz0123456789 ');
  const body = Array.from({ length: 128 }, (_, n) => (n % 40 === 39 ? '.' + line.slice(1) : line));
  return Buffer.from([...head, ...body, ''].join('\r\n'));
}

/**
 * A streaming POP3 reader that counts rather than keeps: bodies are scanned
 * for the terminator chunk by chunk (carrying the last four bytes across
 * chunk edges), so the client costs little next to the server it measures.
 */
class Reader {
  private chunks: Buffer[] = [];
  private waiting: (() => void) | null = null;
  bytes = 0;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.bytes += d.length;
      this.chunks.push(d);
      this.waiting?.();
    });
  }
  private async next(): Promise<Buffer> {
    while (this.chunks.length === 0) {
      await new Promise<void>((r) => (this.waiting = r));
      this.waiting = null;
    }
    return this.chunks.shift()!;
  }
  private unshift(rest: Buffer): void {
    if (rest.length) this.chunks.unshift(rest);
  }
  async line(): Promise<string> {
    let acc: Buffer = Buffer.alloc(0);
    for (;;) {
      const c = await this.next();
      const joined = acc.length ? Buffer.concat([acc, c]) : c;
      const i = joined.indexOf('\r\n');
      if (i !== -1) {
        this.unshift(joined.subarray(i + 2));
        return joined.toString('latin1', 0, i);
      }
      acc = joined;
    }
  }
  /** Reads "+OK ..." and the body through its terminator; returns the body octets. */
  async multi(): Promise<number> {
    const status = await this.line();
    if (!status.startsWith('+OK')) throw new Error(status);
    let tail = Buffer.from('\r\n');
    let octets = 0;
    for (;;) {
      const c = await this.next();
      const view = Buffer.concat([tail, c]);
      const i = view.indexOf('\r\n.\r\n');
      if (i !== -1) {
        const end = i + 5 - tail.length;
        this.unshift(c.subarray(end));
        return octets + end - 3;
      }
      octets += c.length;
      tail = view.subarray(Math.max(0, view.length - 4));
    }
  }
}

async function connect(port: number, useTls: boolean): Promise<net.Socket> {
  const s = useTls
    ? tls.connect({ port, host: '127.0.0.1', ca: testTls().cert, servername: 'localhost' })
    : net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    s.once(useTls ? 'secureConnect' : 'connect', () => resolve());
    s.once('error', reject);
  });
  s.setNoDelay(true);
  return s;
}

/** Logs in, RETRs messages 1..n with `window` commands in flight, QUITs without deleting. */
async function retrAll(port: number, user: string, pass: string, n: number, window: number, useTls = false) {
  const socket = await connect(port, useTls);
  const r = new Reader(socket);
  await r.line();
  socket.write(`USER ${user}\r\nPASS ${pass}\r\n`);
  await r.line();
  const login = await r.line();
  if (!login.startsWith('+OK')) throw new Error(`login failed: ${login}`);
  const started = r.bytes;
  const t0 = performance.now();
  let sent = 0;
  let body = 0;
  const send = (k: number) => {
    let cmds = '';
    for (let j = 0; j < k && sent < n; j++) cmds += `RETR ${++sent}\r\n`;
    if (cmds) socket.write(cmds);
  };
  send(window);
  for (let got = 0; got < n; got++) {
    body += await r.multi();
    send(1);
  }
  const secs = (performance.now() - t0) / 1000;
  const wire = r.bytes - started;
  socket.write('RSET\r\nQUIT\r\n');
  await r.line();
  await r.line();
  socket.destroy();
  return { secs, msgsPerSec: n / secs, mbPerSec: wire / secs / 1e6, body };
}

function report(label: string, x: { secs: number; msgsPerSec: number; mbPerSec: number }): void {
  console.log(`${label.padEnd(44)} ${x.msgsPerSec.toFixed(0).padStart(8)} msgs/s ${x.mbPerSec.toFixed(1).padStart(8)} MB/s  (${x.secs.toFixed(2)} s)`);
}

const messages = Array.from({ length: COUNT }, (_, i) => benchMessage(i));
const bytes = messages.reduce((n, m) => n + m.length, 0);
console.log(`${COUNT} messages, ${(bytes / 1e6).toFixed(1)} MB, avg ${(bytes / COUNT / 1024).toFixed(1)} KiB; node ${process.version}`);

const t = makeTestStore({ keyMode: 'managed' });
try {
  const acct = await addAccount(t.store);
  const lease = await t.store.openMailbox(acct.account.id);
  const inbox = lease.mailbox.folders.require('INBOX').id;
  const f0 = performance.now();
  for (let i = 0; i < COUNT; i += 500) lease.mailbox.messages.appendMany(inbox, messages.slice(i, i + 500).map((raw) => ({ raw })));
  indexNow(lease.mailbox);
  lease.release();
  t.store.close();
  console.log(`filled the Haven INBOX in ${((performance.now() - f0) / 1000).toFixed(1)} s`);

  // The server in its own process, as Dovecot's is: client and server do not share an event loop.
  await withBenchNode('pop3-node.ts', [t.dataDir, t.masterKey.toString('hex')], /^PORTS (\d+) (\d+)/, async ({ ready }) => {
    const [plain, secure] = [Number(ready[1]), Number(ready[2])];
    report('Haven: RETR one at a time (TCP)', await retrAll(plain, acct.address, acct.password, COUNT, 1));
    report(`Haven: RETR pipelined, ${WINDOW} in flight (TCP)`, await retrAll(plain, acct.address, acct.password, COUNT, WINDOW));
    report(`Haven: RETR pipelined, ${WINDOW} in flight (TLS)`, await retrAll(secure, acct.address, acct.password, COUNT, WINDOW, true));
  });
} finally {
  t.cleanup();
}

if (args['no-dovecot']) process.exit(0);
if (!dovecotAvailable('pop3')) {
  console.log('dovecot not installed (apt-get install dovecot-pop3d): no side-by-side figure');
  process.exit(0);
}
const dc = await startDovecot('pop3', messages);
try {
  // Dovecot indexes the Maildir on the first login; that is setup, not RETR.
  const w0 = performance.now();
  await retrAll(dc.port, dc.user, dc.pass, 1, 1);
  console.log(`Dovecot ${dc.version}: indexed the Maildir in ${((performance.now() - w0) / 1000).toFixed(1)} s`);
  report('Dovecot: RETR one at a time (TCP)', await retrAll(dc.port, dc.user, dc.pass, COUNT, 1));
  report(`Dovecot: RETR pipelined, ${WINDOW} in flight (TCP)`, await retrAll(dc.port, dc.user, dc.pass, COUNT, WINDOW));
  report(`Dovecot: RETR pipelined, ${WINDOW} in flight (TLS)`, await retrAll(dc.tlsPort, dc.user, dc.pass, COUNT, WINDOW, true));
} finally {
  dc.stop();
}
