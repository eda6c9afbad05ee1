/**
 * @module test/pop3/helpers
 * A POP3 server on port 0 over a real encrypted store, and a raw-transcript
 * client (plain, implicit TLS, STLS upgrade) that reads replies line by line
 * so tests can assert exact wire bytes.
 */
import net from 'node:net';
import tls from 'node:tls';
import { AuthLimiter, type AuthLimiterOptions } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { startPop3, type Pop3Limits, type Pop3Server } from '../../node/pop3/index.js';
import type { Store } from '../../node/store/index.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';

export const CA = testTls().cert;

export function secureContext(): tls.SecureContext {
  const { key, cert } = testTls();
  return tls.createSecureContext({ key, cert, minVersion: 'TLSv1.2' });
}

export interface Pop3Fixture {
  t: TestStore;
  address: string;
  password: string;
  accountId: string;
  plain: Pop3Server;
  implicit: Pop3Server;
  limiter: AuthLimiter;
  /** Delivers messages into INBOX (the mailbox is opened in managed mode or after a login). */
  deliver(raws: Buffer[]): Promise<number[]>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startFixture(
  opts: { limits?: Partial<Pop3Limits>; limiter?: Partial<AuthLimiterOptions> } = {},
): Promise<Pop3Fixture> {
  const t = makeTestStore({ keyMode: 'managed' });
  const acct = await addAccount(t.store);
  const limiter = new AuthLimiter({ stepDelayMs: 0, ...opts.limiter });
  const limits: Partial<Pop3Limits> = { allowPlaintextOnLoopback: true, ...opts.limits };
  const start = async (store: Store) => {
    const deps = { store, log: silentLogger, authLimiter: limiter, tls: { secureContext }, hostname: 'localhost', limits };
    return {
      plain: await startPop3(deps, { host: '127.0.0.1', port: 0, implicitTls: false }),
      implicit: await startPop3(deps, { host: '127.0.0.1', port: 0, implicitTls: true }),
    };
  };
  const servers = await start(t.store);
  const f: Pop3Fixture = {
    t,
    address: acct.address,
    password: acct.password,
    accountId: acct.account.id,
    limiter,
    ...servers,
    async deliver(raws) {
      const uids: number[] = [];
      for (const raw of raws) uids.push((await f.t.store.deliver(f.accountId, raw)).uid!);
      return uids;
    },
    async restart() {
      await f.plain.close();
      await f.implicit.close();
      f.t.reopen();
      Object.assign(f, await start(f.t.store));
    },
    async close() {
      await f.plain.close();
      await f.implicit.close();
      t.cleanup();
    },
  };
  return f;
}

/** A raw POP3 client: send lines, read single-line and multi-line replies exactly as sent. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private ended = false;
  socket!: net.Socket;

  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<RawClient> {
    const c = new RawClient();
    const s = opts.tls ? tls.connect({ port, host: '127.0.0.1', ca: CA, servername: 'localhost' }) : net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      s.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      s.once('error', reject);
    });
    c.attach(s);
    return c;
  }

  private attach(s: net.Socket): void {
    this.socket = s;
    this.ended = false;
    s.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until<T>(take: () => T | undefined): Promise<T> {
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString())}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** One reply line without its CRLF. */
  line(): Promise<string> {
    return this.until(() => {
      const i = this.buf.indexOf('\r\n');
      if (i === -1) return undefined;
      const l = this.buf.subarray(0, i).toString();
      this.buf = this.buf.subarray(i + 2);
      return l;
    });
  }

  /** A multi-line reply: status line, then the raw body bytes up to (not including) "\r\n.\r\n"'s final ".\r\n". */
  async multi(): Promise<{ status: string; body: Buffer }> {
    const status = await this.line();
    if (!status.startsWith('+OK')) return { status, body: Buffer.alloc(0) };
    const body = await this.until(() => {
      if (this.buf.subarray(0, 3).equals(Buffer.from('.\r\n'))) {
        this.buf = this.buf.subarray(3);
        return Buffer.alloc(0);
      }
      const i = this.buf.indexOf('\r\n.\r\n');
      if (i === -1) return undefined;
      const b = this.buf.subarray(0, i + 2);
      this.buf = this.buf.subarray(i + 5);
      return b;
    });
    return { status, body };
  }

  /** Sends a command and returns its one-line reply. */
  async cmd(line: string): Promise<string> {
    this.send(line);
    return this.line();
  }

  async multiCmd(line: string): Promise<{ status: string; body: Buffer }> {
    this.send(line);
    return this.multi();
  }

  /** Text lines of a multi-line reply. */
  async lines(line: string): Promise<string[]> {
    const { status, body } = await this.multiCmd(line);
    if (!status.startsWith('+OK')) throw new Error(`${line}: ${status}`);
    return body.toString().split('\r\n').slice(0, -1);
  }

  /** After "+OK" to STLS: the TLS handshake over the same connection. */
  async upgrade(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const s = tls.connect({ socket: plain, ca: CA, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      s.once('secureConnect', () => resolve());
      s.once('error', reject);
    });
    this.buf = Buffer.alloc(0);
    this.attach(s);
  }

  /** Resolves when the server closed the connection. */
  closed(): Promise<void> {
    return this.until(() => (this.ended ? true : undefined)).then(() => undefined);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }

  async login(address: string, password: string): Promise<string> {
    expectOk(await this.line());
    expectOk(await this.cmd(`USER ${address}`));
    return this.cmd(`PASS ${password}`);
  }
}

function expectOk(l: string): void {
  if (!l.startsWith('+OK')) throw new Error(`expected +OK, got ${l}`);
}

/** A message of `bodyLines` numbered body lines. */
export function numberedMessage(bodyLines: number, subject = 'Numbered'): Buffer {
  const head = ['From: bob@example.net', 'To: alice@example.test', `Subject: ${subject}`, 'Message-ID: <' + Math.random().toString(36).slice(2) + '@example.net>', ''];
  const body = Array.from({ length: bodyLines }, (_, i) => `line ${i + 1}`);
  return Buffer.from([...head, ...body].join('\r\n') + '\r\n');
}
