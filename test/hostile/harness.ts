/**
 * @module test/hostile/harness
 * A whole node in a child process (test/helpers/node-child.ts: startNode
 * with the process policy, every listener on port 0) for the attack tests, and
 * the one question every attack test asks while and after it attacks: does
 * the node still serve someone else? A second client's IMAP login and a
 * /health request must each answer within a second (see deadlineMs for a
 * machine already loaded before the attack). The attacker's traffic
 * comes from this process, so the node's memory (VmRSS), CPU and event loop
 * are its own. Attackers connect from 127.0.0.2 so the per-IP limits they
 * trip are not the bystander's.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { expect } from 'vitest';
import type { ConfigInput } from '../../node/config/index.js';
import type { ListenerName } from '../../node/main.js';
import type { Child } from '../helpers/child.js';
import { NODE_CHILD_ACCOUNTS, startNodeChild } from '../helpers/node-child.js';

export const { alice: ALICE, bob: BOB } = NODE_CHILD_ACCOUNTS;
/** The attacker's address: another loopback address, so its limits are its own. */
export const ATTACKER = '127.0.0.2';

export interface HostileNode {
  node: { ports: Partial<Record<ListenerName, number>>; pid: number };
  ca: Buffer;
  child: Child;
  /** The node's data directory (for `haven` commands, which then ask the node over its control socket). */
  dataDir: string;
  /** How long the bystander may take: 1 s, or four times an unattacked check on a loaded machine. */
  deadlineMs: number;
  /** Bystander checks that missed the deadline once and made it on the retry (see stillServing). */
  misses: string[];
  /** The node's log so far (JSON lines). */
  log(): string;
  /** The node's resident memory, MB (VmRSS). */
  rssMb(): number;
  /** The node's CPU time so far, seconds (user + system, every thread). */
  cpuSeconds(): number;
  /** One value from /metrics (the sum over label sets that contain `labels`). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export async function startHostileNode(overrides: ConfigInput = {}): Promise<HostileNode> {
  const h = await startHostileNodeUnwarmed(overrides);
  await warm(h);
  return h;
}

/** The node without the bystander's warm-up (for a node that is meant to refuse it). */
export async function startHostileNodeUnwarmed(overrides: ConfigInput = {}): Promise<HostileNode> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-hostile-'));
  const logFile = join(dir, 'node.log');
  // On a CI runner shared by parallel suites the node is sometimes not scheduled for a second or more, which its
  // watchdog rightly calls a stall; the attack tests judge responsiveness by the bystander's own 1 s deadline instead,
  // and leave /health's stall verdict to watchdog.test.ts (which sets its own, lower, threshold).
  const config = { ...overrides, limits: { maxEventLoopLagMs: 5000, ...(overrides.limits as object | undefined) } };
  const { child, ports, pid, ca } = await startNodeChild(join(dir, 'data'), { config, logFile, processPolicy: true });
  const h: HostileNode = {
    node: { ports, pid },
    ca,
    child,
    dataDir: join(dir, 'data'),
    deadlineMs: 1000,
    misses: [],
    log: () => readFileSync(logFile, 'utf8'),
    rssMb() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return Number(m![1]) / 1024;
    },
    cpuSeconds() {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      // utime and stime are fields 14 and 15 of /proc/pid/stat (proc(5)); the split drops the first two.
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    async metric(name, labels = {}) {
      const text = await httpsGet(h, '/metrics');
      let sum = 0;
      for (const l of text.body.split('\n')) {
        const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(l);
        if (!m || m[1] !== name) continue;
        if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
      }
      return sum;
    },
    async close() {
      child.proc.kill('SIGTERM');
      const exited = await Promise.race([child.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      if (exited === 'timeout') await child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // The bystander's first login derives its key (scrypt, a few hundred ms on an idle machine, more on a busy CI
  // runner); the node keeps the login cached, as it does for any user who logged in before. Warm it before the clock runs.
  return h;
}

async function warm(h: HostileNode): Promise<void> {
  // Warming is not judged: a first login opens the mailbox database and, under tsx, compiles modules on first use.
  await stillServing(h, 30_000, BOB, { judgeHealth: false });
  await stillServing(h, 30_000, ALICE, { judgeHealth: false });
  // The bystander's deadline is 1 s, as the issue asks, on a machine that is otherwise idle. On a runner already
  // loaded by other suites an idle node can take longer than that: then the deadline is four times what the same
  // checks took on this node just now, before any attack, so the tests still measure what the attack costs.
  let slowest = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await stillServing(h, 30_000, BOB, { judgeHealth: false });
    slowest = Math.max(slowest, performance.now() - t0);
  }
  h.deadlineMs = Math.max(1000, Math.ceil(4 * slowest));
}

function httpsGet(h: HostileNode, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: h.node.ports.https, path, ca: h.ca, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export async function getHealth(h: HostileNode): Promise<{ status: number; body: { ok: boolean; [k: string]: unknown } }> {
  const r = await httpsGet(h, '/health');
  return { status: r.status, body: JSON.parse(r.body) };
}

/** Resolves with the value and how long it took; rejects past `ms`. */
async function timed<T>(what: string, p: Promise<T>, ms: number): Promise<{ value: T; ms: number }> {
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  try {
    const value = await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)))]);
    const took = performance.now() - started;
    if (process.env.HOSTILE_DEBUG) console.log(what, Math.round(took));
    if (took >= ms) throw new Error(`${what} took ${Math.round(took)} ms, over ${ms}`);
    return { value, ms: took };
  } finally {
    clearTimeout(timer);
  }
}

async function bystander(h: HostileNode, ms: number, who: { address: string; password: string }): Promise<{ messages: number; health: { status: number; body: { ok: boolean; [k: string]: unknown } } }> {
  const login = (async () => {
    const c = new ImapFlow({ host: '127.0.0.1', port: h.node.ports.imap!, secure: false, doSTARTTLS: false, auth: { user: who.address, pass: who.password }, logger: false });
    try {
      await c.connect();
      const st = await c.status('INBOX', { messages: true });
      await c.logout();
      return st ? (st.messages ?? 0) : -1;
    } finally {
      c.close();
    }
  })();
  const [messages, health] = await Promise.all([timed('IMAP login', login, ms), timed('/health', getHealth(h), ms)]);
  return { messages: messages.value, health: health.value };
}

/**
 * The bystander: Bob logs in over IMAP (and sees his INBOX) and /health
 * answers, each within `ms` (a second, per the issue). One miss is forgiven
 * if the very next try makes it: a runner shared with other suites can
 * leave the node unscheduled for a moment, which is no attack's doing; an
 * attack that holds the node misses both.
 */
export async function stillServing(h: HostileNode, ms = h.deadlineMs, who = BOB, opts: { judgeHealth?: boolean } = {}): Promise<void> {
  let r: Awaited<ReturnType<typeof bystander>>;
  try {
    r = await bystander(h, ms, who);
  } catch (first) {
    h.misses.push((first as Error).message);
    r = await bystander(h, ms, who);
  }
  expect(r.messages).toBeGreaterThanOrEqual(0);
  if (opts.judgeHealth !== false) expect(r.health.status, JSON.stringify(r.health.body)).toBe(200);
}

/** A raw client from the attacker's address, plain or TLS. */
export interface RawClient {
  socket: net.Socket;
  text(): string;
  until(pred: (text: string) => boolean, ms?: number): Promise<string>;
  closed: Promise<void>;
  write(s: string | Buffer): void;
}

export function rawClient(port: number, opts: { tls?: boolean; ca?: Buffer; from?: string } = {}): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const from = opts.from ?? ATTACKER;
    const socket: net.Socket = opts.tls
      ? tls.connect({ socket: net.connect({ host: '127.0.0.1', port, localAddress: from }), ca: opts.ca, servername: 'localhost' })
      : net.connect({ host: '127.0.0.1', port, localAddress: from });
    let buf = '';
    const waiters: (() => void)[] = [];
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (const w of waiters.splice(0)) w();
    });
    const closed = new Promise<void>((r) => socket.once('close', () => {
      for (const w of waiters.splice(0)) w();
      r();
    }));
    socket.on('error', () => undefined);
    socket.once(opts.tls ? 'secureConnect' : 'connect', () =>
      resolve({
        socket,
        closed,
        text: () => buf,
        write: (s) => socket.write(s),
        until(pred, ms = 10_000) {
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`timed out waiting; got ${JSON.stringify(buf.slice(-300))}`)), ms);
            const check = () => {
              if (pred(buf) || socket.destroyed) {
                clearTimeout(timer);
                res(buf);
              } else waiters.push(check);
            };
            check();
          });
        },
      }),
    );
    socket.once('error', reject);
  });
}


/** Subjects of the messages in a mailbox, read over IMAP (from 127.0.0.1). */
export async function subjects(h: HostileNode, who = ALICE, mailbox = 'INBOX'): Promise<string[]> {
  const c = new ImapFlow({ host: '127.0.0.1', port: h.node.ports.imap!, secure: false, doSTARTTLS: false, auth: { user: who.address, pass: who.password }, logger: false });
  await c.connect();
  const out: string[] = [];
  const lock = await c.getMailboxLock(mailbox);
  try {
    if ((c.mailbox as { exists: number }).exists > 0) for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
  } finally {
    lock.release();
    await c.logout();
  }
  return out;
}
