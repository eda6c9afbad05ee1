/**
 * @module test/managesieve/helpers
 * A ManageSieve listener on port 0 over a real store, and a raw client that
 * reads whole responses (through literals) up to their OK/NO/BYE line.
 */
import net from 'node:net';
import tls from 'node:tls';
import { startManageSieve, type ManageSieveLimits } from '../../node/managesieve/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';

export interface Fixture {
  t: TestStore;
  port: number;
  accountId: string;
  address: string;
  password: string;
  close(): Promise<void>;
}

export async function startFixture(limits: Partial<ManageSieveLimits> = {}): Promise<Fixture> {
  const t = makeTestStore();
  const a = await addAccount(t.store);
  const { key, cert } = testTls();
  const ctx = tls.createSecureContext({ key, cert, minVersion: 'TLSv1.2' });
  const srv = await startManageSieve(
    { store: t.store, log: silentLogger, authLimiter: new AuthLimiter({ stepDelayMs: 0 }), tls: { secureContext: () => ctx }, limits },
    { host: '127.0.0.1', port: 0 },
  );
  return {
    t,
    port: srv.port,
    accountId: a.account.id,
    address: a.address,
    password: a.password,
    async close() {
      await srv.close();
      t.cleanup();
    },
  };
}

export class RawClient {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  closed = false;

  constructor(public socket: net.Socket) {
    this.listen();
  }

  private listen(): void {
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  static async connect(port: number): Promise<RawClient> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    return new RawClient(s);
  }

  /** Everything up to and including the next OK/NO/BYE line (literals skipped over whole). */
  async response(): Promise<string> {
    for (;;) {
      const end = this.complete();
      if (end >= 0) {
        const out = this.buf.subarray(0, end).toString('utf8');
        this.buf = this.buf.subarray(end);
        return out;
      }
      if (this.closed) {
        const out = this.buf.toString('utf8');
        this.buf = Buffer.alloc(0);
        return out;
      }
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
  }

  private complete(): number {
    let i = 0;
    const b = this.buf;
    for (;;) {
      const lf = b.indexOf(0x0a, i);
      if (lf < 0) return -1;
      const line = b.toString('utf8', i, lf + 1);
      const lit = /\{([0-9]+)\}\r\n$/.exec(line);
      const final = /^(OK|NO|BYE)\b/.test(line);
      if (lit) {
        i = lf + 1 + Number(lit[1]);
        if (i > b.length) return -1;
        if (final) {
          const end = b.indexOf(0x0a, i);
          return end < 0 ? -1 : end + 1;
        }
        continue;
      }
      if (final) return lf + 1;
      i = lf + 1;
    }
  }

  /** The next bare line (a SASL challenge). */
  async line(): Promise<string> {
    for (;;) {
      const lf = this.buf.indexOf(0x0a);
      if (lf >= 0) {
        const out = this.buf.subarray(0, lf + 1).toString('utf8');
        this.buf = this.buf.subarray(lf + 1);
        return out;
      }
      if (this.closed) return '';
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
  }

  async cmd(s: string | Buffer): Promise<string> {
    this.socket.write(typeof s === 'string' ? s + '\r\n' : s);
    return this.response();
  }

  /** STARTTLS already answered OK: wrap the socket and keep reading through TLS. */
  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.buf = Buffer.alloc(0);
    this.listen();
  }

  close(): void {
    this.socket.destroy();
  }
}

export function plain(user: string, pass: string, authz = ''): string {
  return Buffer.from(`${authz}\0${user}\0${pass}`).toString('base64');
}
