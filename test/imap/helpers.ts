/**
 * @module test/imap/helpers
 * A real IMAP listener on port 0 over a real encrypted store, an imapflow
 * client factory, and a raw-transcript client for exact responses.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { expect } from 'vitest';
import { startImap, type ImapDeps } from '../../node/imap/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';

export interface ImapFixture {
  t: TestStore;
  port: number;
  address: string;
  password: string;
  accountId: string;
  close(): Promise<void>;
}

export async function startFixture(opts: { implicitTls?: boolean; limits?: ImapDeps['limits']; allowPlaintextOnLoopback?: boolean } = {}): Promise<ImapFixture> {
  const t = makeTestStore();
  const acct = await addAccount(t.store);
  const { key, cert } = testTls();
  const ctx = tls.createSecureContext({ key, cert, minVersion: 'TLSv1.2' });
  const srv = await startImap(
    {
      store: t.store,
      log: silentLogger,
      authLimiter: new AuthLimiter({ stepDelayMs: 0 }),
      tls: { secureContext: () => ctx },
      hostname: 'localhost',
      limits: opts.limits,
      allowPlaintextOnLoopback: opts.allowPlaintextOnLoopback ?? true,
    },
    { host: '127.0.0.1', port: 0, implicitTls: opts.implicitTls ?? false },
  );
  return {
    t,
    port: srv.port,
    address: acct.address,
    password: acct.password,
    accountId: acct.account.id,
    async close() {
      await srv.close();
      t.cleanup();
    },
  };
}

export async function flow(f: ImapFixture, opts: { secure?: boolean; qresync?: boolean } = {}): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: f.port,
    secure: opts.secure ?? false,
    doSTARTTLS: false,
    auth: { user: f.address, pass: f.password },
    logger: false,
    tls: { rejectUnauthorized: false },
    qresync: opts.qresync,
  });
  await c.connect();
  return c;
}

/** A line-oriented raw client: send a command, collect lines until its tagged reply. */
export class Raw {
  private buf = '';
  private waiters: (() => void)[] = [];
  socket: net.Socket | tls.TLSSocket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach();
  }

  private attach(): void {
    this.socket.on('data', (b: Buffer) => {
      this.buf += b.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(port: number): Promise<Raw> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    const raw = new Raw(s);
    await raw.until((b) => b.includes('\r\n'));
    raw.take();
    return raw;
  }

  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    const t = tls.connect({ socket: this.socket as net.Socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise((r) => t.once('secureConnect', r));
    this.socket = t;
    this.attach();
  }

  /** Resolves when the buffer satisfies `pred`. */
  async until(pred: (buf: string) => boolean): Promise<void> {
    while (!pred(this.buf)) {
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  take(): string {
    const b = this.buf;
    this.buf = '';
    return b;
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  /** Sends `tag cmd` and returns everything up to and including the tagged reply. */
  async cmd(tag: string, text: string): Promise<string> {
    this.write(`${tag} ${text}\r\n`);
    return this.reply(tag);
  }

  async reply(tag: string): Promise<string> {
    const re = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`);
    await this.until((b) => re.test(b));
    const m = re.exec(this.buf)!;
    const end = m.index + m[0].length;
    const out = this.buf.slice(0, end);
    this.buf = this.buf.slice(end);
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function login(raw: Raw, f: ImapFixture): Promise<void> {
  const r = await raw.cmd('L', `LOGIN ${f.address} "${f.password}"`);
  if (!r.includes('L OK')) throw new Error(r);
}

/** A raw session connected to the fixture and logged in as its account. */
export async function loggedIn(f: ImapFixture): Promise<Raw> {
  const raw = await Raw.connect(f.port);
  await login(raw, f);
  return raw;
}

/** The set-up most files share, for a beforeAll: a fixture and one logged-in raw session; `stop` for the afterAll. */
export async function startSession(): Promise<{ f: ImapFixture; raw: Raw; stop(): Promise<void> }> {
  const f = await startFixture();
  const raw = await loggedIn(f);
  return {
    f,
    raw,
    async stop() {
      raw.close();
      await f.close();
    },
  };
}

/**
 * Stores `messages` straight through the store in a new folder of the
 * fixture's account, in order (sequence numbers 1..n), and SELECTs it on `raw`.
 */
export async function selectNewFolder(f: ImapFixture, raw: Raw, name: string, messages: Buffer[], opts: { internalDate?: number } = {}): Promise<void> {
  const lease = await f.t.store.openMailbox(f.accountId);
  try {
    const id = lease.mailbox.folders.create(name).id;
    for (const m of messages) lease.mailbox.messages.append(id, m, opts);
  } finally {
    lease.release();
  }
  expect(await raw.cmd('s', `SELECT ${name}`)).toMatch(/s OK/);
}
