/**
 * @module test/hostile/harness
 * A whole node (startNode, every listener on port 0) for the attack tests,
 * and the one question every attack test asks while and after it attacks:
 * does the node still serve someone else? A second client's IMAP login and
 * a /health request must each answer within a second. Attackers connect
 * from 127.0.0.2 so the per-IP limits they trip are not the bystander's.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { expect } from 'vitest';
import { testConfig, type ConfigInput } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';

export const ALICE = { address: 'alice@example.org', password: 'alice-password-1' };
export const BOB = { address: 'bob@example.org', password: 'bob-password-1' };
/** The attacker's address: another loopback address, so its limits are its own. */
export const ATTACKER = '127.0.0.2';

export interface HostileNode {
  node: NodeHandle;
  ca: Buffer;
  dns: TestDns;
  close(): Promise<void>;
}

export async function startHostileNode(overrides: ConfigInput = {}): Promise<HostileNode> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-hostile-'));
  const dns = await startTestDns();
  const node = await startNode(testConfig(join(dir, 'data'), { dnsbl: [], ...overrides }), { resolver: dns.resolver, adminUi: false });
  node.store.directory.addDomain('example.org');
  await node.store.createAccount(ALICE.address, ALICE.password);
  await node.store.createAccount(BOB.address, BOB.password);
  return {
    node,
    dns,
    ca: readFileSync(node.certificate.certFile),
    async close() {
      await node.close();
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function getHealth(h: HostileNode): Promise<{ status: number; body: { ok: boolean; [k: string]: unknown } }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: h.node.ports.https, path: '/health', ca: h.ca, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function timed<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
    expect(performance.now() - started, what).toBeLessThan(ms);
  }
}

/**
 * The bystander: Bob logs in over IMAP (and sees his INBOX) and /health
 * answers, each within `ms` (a second, per the issue).
 */
export async function stillServing(h: HostileNode, ms = 1000, who = BOB): Promise<void> {
  const login = (async () => {
    const c = new ImapFlow({ host: '127.0.0.1', port: h.node.ports.imap!, secure: false, doSTARTTLS: false, auth: { user: who.address, pass: who.password }, logger: false });
    await c.connect();
    const st = await c.status('INBOX', { messages: true });
    await c.logout();
    return st ? (st.messages ?? 0) : -1;
  })();
  const [messages, health] = await Promise.all([timed('IMAP login', login, ms), timed('/health', getHealth(h), ms)]);
  expect(messages).toBeGreaterThanOrEqual(0);
  expect(health.status, JSON.stringify(health.body)).toBe(200);
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

/** Resident memory of this process (the node runs in it), in MB. */
export function rssMb(): number {
  return process.memoryUsage.rss() / (1024 * 1024);
}
