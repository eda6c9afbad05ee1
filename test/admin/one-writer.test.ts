/**
 * One writer, and a replica that is whole from each database's first byte
 * (issue 15), tried as an operator would: a real node (`haven start`, its
 * own process) replicating to a directory; accounts, an alias and an app
 * password made while it runs through the `haven` CLI (in this process,
 * which must open no database: the node does the work) and through the
 * signed admin API; mail sealed for owners who never logged in; SIGKILL;
 * the data directory wiped; `haven restore`; a new node; the owners log in
 * over IMAP (imapflow) and read their mail byte for byte.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { OPTIONS } from '../../node/config/index.js';
import { signRequest } from '../../node/http/index.js';
import { addDbObserver } from '../../node/store/index.js';
import { databaseFiles } from '../../node/store/layout.js';
import { wrongModes } from '../helpers/modes.js';

const root = mkdtempSync(join(tmpdir(), 'haven-one-writer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'haven.js');
const SECRET = randomBytes(32).toString('hex');
const dataDir = join(root, 'data');
const env: Record<string, string> = {
  HAVEN_DATA_DIR: dataDir,
  HAVEN_MASTER_KEY: randomBytes(32).toString('hex'),
  HAVEN_REPLICA_URL: pathToFileURL(join(root, 'replica')).href,
  HAVEN_ADMIN_SECRET: SECRET,
  HAVEN_DNSBL: '',
  HAVEN_LOG_LEVEL: 'info',
  HAVEN_POP3_ENABLED: 'false',
};
for (const name of Object.keys(OPTIONS.ports)) env[`HAVEN_PORTS_${name.toUpperCase()}`] = '0';

interface RunningNode {
  proc: ChildProcess;
  ports: Record<string, number>;
  ca: Buffer;
  /** Resolves once the node has logged a line matching `re` (JSON lines on stderr). */
  logged(re: RegExp): Promise<void>;
  exited: Promise<unknown>;
}

/** `haven start` in its own process; resolves once its banner says it is ready. */
function startNodeProcess(): Promise<RunningNode> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAVEN_')) childEnv[k] = v;
  const proc = spawn(process.execPath, [BIN, 'start'], { env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const logWaiters = new Set<() => void>();
  proc.stderr!.on('data', (d) => {
    err += d;
    for (const w of [...logWaiters]) w();
  });
  const logged = (re: RegExp) =>
    new Promise<void>((done) => {
      const check = () => {
        if (!re.test(err)) return;
        logWaiters.delete(check);
        done();
      };
      logWaiters.add(check);
      check();
    });
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`haven start exited ${code}: ${err}`)));
    proc.stdout!.on('data', (d) => {
      out += d;
      if (!/^ready;/m.test(out)) return;
      const ports: Record<string, number> = {};
      for (const m of out.matchAll(/^ {2}(\w+) +127\.0\.0\.1:(\d+) /gm)) ports[m[1]] = Number(m[2]);
      const cert = /^certificate: +self-signed \((.+)\);/m.exec(out)![1];
      resolve({ proc, ports, ca: readFileSync(cert), logged, exited });
    });
  });
}

/** The `haven` CLI, in this process. */
async function haven(argv: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo({ env, stdin, cwd: root });
  const code = await runCli(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

async function adminCall(node: RunningNode, method: string, path: string, body: unknown): Promise<Response> {
  const text = JSON.stringify(body);
  const headers = { ...(await signRequest(SECRET, { method, path, body: text })), 'content-type': 'application/json' };
  // The node's certificate is self-signed for localhost; this request goes to its loopback listener only.
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: node.ports.https, method, path, headers, ca: node.ca, servername: 'localhost' }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve(new Response(data, { status: res.statusCode })));
    });
    req.on('error', reject);
    req.end(text);
  });
}

function rawMessage(to: string, subject: string): Buffer {
  // CRLF line ends, as SMTP carries them; the random body makes every byte checkable.
  return Buffer.from(
    [`From: Bob <bob@example.org>`, `To: ${to}`, `Subject: ${subject}`, `Message-ID: <${randomBytes(8).toString('hex')}@example.org>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `body ${randomBytes(24).toString('hex')}`, 'äöü and a last line', ''].join('\r\n'),
  );
}

async function readInbox(node: RunningNode, user: string, pass: string): Promise<Buffer[]> {
  const client = new ImapFlow({ host: '127.0.0.1', port: node.ports.imaps, secure: true, auth: { user, pass }, tls: { ca: node.ca, servername: 'localhost' }, logger: false });
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const out: Buffer[] = [];
      for await (const m of client.fetch('1:*', { source: true })) out.push(m.source!);
      return out;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

describe('one writer, replicated from birth, restored whole', () => {
  it('accounts, an alias and an app password made while the node runs survive SIGKILL, a wiped disk and a restore, with the sealed mail', async () => {
    let node = await startNodeProcess();
    const seen: string[] = [];
    const stopWatching = addDbObserver({ opened: (path) => seen.push(path), committed: () => {}, closing: () => {} });
    let appPassword: string;
    const sent = { alice: rawMessage('alice@example.org', 'sealed for alice'), info: rawMessage('info@example.org', 'sealed via the alias'), carol: rawMessage('carol@example.org', 'sealed for carol') };
    try {
      // --- through the CLI, while the node runs: the node does the work.
      expect((await haven(['domain', 'add', 'example.org'])).code).toBe(0);
      const alice = await haven(['account', 'add', 'alice@example.org', '--password-stdin', '--json'], 'alice has a long password\nalice has a long password\n');
      expect(alice.code, alice.err).toBe(0);
      expect(alice.err).toBe('');
      expect((await haven(['account', 'add', 'bob@example.org', '--password', 'bob has a long password'])).code).toBe(0);
      const alias = await haven(['alias', 'add', 'info@example.org', 'alice@example.org']);
      expect(alias.code, alias.err).toBe(0);
      const app = await haven(['app-password', 'add', 'alice@example.org', '--label', 'phone', '--password', 'alice has a long password', '--json']);
      expect(app.code, app.err).toBe(0);
      appPassword = JSON.parse(app.out).password;
      // This process opened no database at all: every write went to the node, which logged each one.
      expect(seen).toEqual([]);
      for (const op of ['domain.add', 'account.add', 'alias.add', 'app-password.add']) await node.logged(new RegExp(`"op":"${op.replace('.', '\\.')}","via":"cli"`));

      // --- through the signed admin API.
      const carol = await adminCall(node, 'POST', '/api/v1/accounts', { address: 'carol@example.org', password: 'carol has a long password' });
      expect(carol.status, await carol.clone().text()).toBe(201);

      // --- mail for owners who have never logged in: sealed into the spool.
      const submit = nodemailer.createTransport({ host: '127.0.0.1', port: node.ports.submissions, secure: true, auth: { user: 'bob@example.org', pass: 'bob has a long password' }, tls: { ca: node.ca, servername: 'localhost' } });
      await submit.sendMail({ envelope: { from: 'bob@example.org', to: ['alice@example.org'] }, raw: sent.alice });
      await submit.sendMail({ envelope: { from: 'bob@example.org', to: ['info@example.org'] }, raw: sent.info });
      await submit.sendMail({ envelope: { from: 'bob@example.org', to: ['carol@example.org'] }, raw: sent.carol });
      submit.close();

      // Every database file is listed, and every one is in the replica (waiting for it to catch up, as within the RPO).
      const files = databaseFiles(dataDir).map((f) => f.name);
      expect(files).toHaveLength(5); // directory, spool, three mailboxes
      let status: { databases: { db: string; inReplica: boolean }[]; missing: string[]; node: { status: { lagMs: number; pendingObjects: number } } };
      for (;;) {
        const st = await haven(['replicate', 'status', '--json']);
        status = JSON.parse(st.out);
        if (st.code === 0 && status.node.status.pendingObjects === 0 && status.node.status.lagMs === 0) break;
      }
      expect(status.databases.map((d) => d.db)).toEqual(files);
      expect(status.missing).toEqual([]);

      // --- the server is lost.
      node.proc.kill('SIGKILL');
      await node.exited;
      rmSync(dataDir, { recursive: true, force: true });
    } finally {
      stopWatching();
      if (node.proc.exitCode === null && node.proc.signalCode === null) node.proc.kill('SIGKILL');
    }

    const restored = await haven(['restore']);
    expect(restored.code, restored.err).toBe(0);
    expect(restored.out).toMatch(/restored 5 database\(s\)/);
    // What the restore wrote is as private as what the node writes.
    expect(wrongModes(dataDir)).toEqual([]);

    node = await startNodeProcess();
    try {
      const alice = await readInbox(node, 'alice@example.org', 'alice has a long password');
      expect(alice).toHaveLength(2);
      // Trace headers may precede it; the message itself comes back byte for byte.
      expect(alice[0].subarray(alice[0].length - sent.alice.length).equals(sent.alice)).toBe(true);
      expect(alice[1].subarray(alice[1].length - sent.info.length).equals(sent.info)).toBe(true);
      const viaApp = await readInbox(node, 'alice@example.org', appPassword!);
      expect(viaApp).toHaveLength(2);
      const carol = await readInbox(node, 'carol@example.org', 'carol has a long password');
      expect(carol).toHaveLength(1);
      expect(carol[0].subarray(carol[0].length - sent.carol.length).equals(sent.carol)).toBe(true);
    } finally {
      node.proc.kill('SIGTERM');
      await node.exited;
    }
  }, 180_000);
});
