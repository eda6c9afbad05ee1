/**
 * @module node/imap/server
 * The listener and one Connection per client: the byte stream (plain, TLS
 * after STARTTLS or from the first byte, deflate after COMPRESS), the
 * receiver feeding whole requests to the session one at a time, limits on
 * connections per IP and idle time, and a clean BYE on shutdown.
 */
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { Store } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import { connectionId, type Logger } from '../util/log.js';
import { metrics } from '../util/metrics.js';
import { reportUnexpected } from '../util/unexpected.js';
import { Receiver } from './receiver.js';
import { DEFAULT_IMAP_LIMITS, ServerContext, type ImapLimits } from './server-context.js';
import { Session, type Transport } from './session.js';

export interface ImapDeps {
  store: Store;
  log: Logger;
  authLimiter: AuthLimiter;
  tls: { secureContext(): tls.SecureContext };
  hostname: string;
  limits?: Partial<ImapLimits>;
  /** Accept LOGIN without TLS from 127.0.0.1/::1 (local runs and tests). */
  allowPlaintextOnLoopback?: boolean;
}

export interface ImapListen {
  host: string;
  port: number;
  implicitTls: boolean;
}

class Connection implements Transport {
  secure = false;
  compressed = false;
  readonly remoteAddress: string;
  readonly session: Session;
  private stream: net.Socket | tls.TLSSocket;
  private readonly receiver: Receiver;
  private deflate: zlib.DeflateRaw | null = null;
  private inflate: zlib.InflateRaw | null = null;
  private busy = false;
  closed = false;
  private readonly onData = (b: Buffer) => this.bytes(b);

  constructor(
    private readonly socket: net.Socket,
    private readonly ctx: ServerContext,
    private readonly deps: ImapDeps,
    log: Logger,
  ) {
    this.stream = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.receiver = new Receiver({
      maxLine: ctx.limits.maxLine,
      maxLiteral: Math.max(ctx.limits.maxLiteral, ctx.limits.appendLimit),
      maxAppend: ctx.limits.appendLimit,
      maxRequest: ctx.limits.maxLiteral * 4,
      maxNonSync: ctx.limits.literalMinus ? 4096 : undefined,
      // A client that sent a literal we refuse under LITERAL+ cannot take it back: read and drop it.
      maxDiscard: Math.max(ctx.limits.maxLiteral * 4, 256 * 1024 * 1024),
    });
    const cid = connectionId();
    this.session = new Session(cid, ctx, this, log.child({ proto: 'imap', cid, remote: this.remoteAddress }));
    socket.setTimeout(ctx.limits.preauthTimeoutMs);
    socket.on('timeout', () => {
      this.write(Buffer.from('* BYE idle too long; reconnect when you need the server\r\n'));
      this.close();
    });
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  start(implicitTls: boolean): void {
    if (implicitTls) {
      void this.startTls().then((ok) => ok && this.session.greet());
      return;
    }
    this.stream.on('data', this.onData);
    this.session.greet();
  }

  write(data: Buffer): void {
    if (this.closed) return;
    if (this.deflate) {
      this.deflate.write(data);
      this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.stream.write(data);
  }

  get unsent(): number {
    return (this.deflate?.writableLength ?? 0) + this.stream.writableLength;
  }

  backpressure(): Promise<void> | null {
    // Asked after each batch of a long response: let what is written go now (the command corked the stream), so the client reads while we work.
    while (this.stream.writableCorked) this.stream.uncork();
    const out = this.deflate ?? this.stream;
    if (this.closed || out.writableLength < 1024 * 1024) return null;
    return new Promise<void>((resolve) => {
      const done = () => {
        out.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      out.once('drain', done);
      this.socket.once('close', done);
    });
  }

  startTls(): Promise<boolean> {
    // The OK to STARTTLS must reach the client in plaintext before the handshake.
    while (this.socket.writableCorked) this.socket.uncork();
    this.stream.off('data', this.onData);
    // Nothing pipelined in plaintext may survive into the TLS session.
    this.receiver.reset();
    const t = new tls.TLSSocket(this.socket, {
      isServer: true,
      secureContext: this.deps.tls.secureContext(),
      SNICallback: (_name, cb) => cb(null, this.deps.tls.secureContext()),
    });
    this.stream = t;
    t.on('error', () => this.close());
    // A failed handshake is an I/O failure, not a server bug: the connection closes and nothing is answered.
    return new Promise((resolve) => {
      t.once('secure', () => {
        this.secure = true;
        t.on('data', this.onData);
        resolve(true);
      });
      t.once('error', () => resolve(false));
      t.once('close', () => {
        this.close();
        resolve(false);
      });
    });
  }

  startCompression(): void {
    this.compressed = true;
    this.deflate = zlib.createDeflateRaw({ windowBits: 15 });
    this.deflate.on('data', (b: Buffer) => this.stream.write(b));
    this.inflate = zlib.createInflateRaw({ windowBits: 15 });
    this.inflate.on('data', this.onData);
    this.inflate.on('error', () => this.close());
    this.stream.off('data', this.onData);
    this.stream.on('data', (b: Buffer) => this.inflate!.write(b));
    const rest = this.receiver.drain();
    if (rest.length) this.inflate.write(rest);
  }

  private bytes(b: Buffer): void {
    if (this.session.state.kind !== 'notauth') this.socket.setTimeout(this.ctx.limits.idleTimeoutMs);
    this.receiver.push(b);
    if (this.busy && this.receiver.pending > 4 * this.ctx.limits.maxLine + this.ctx.limits.maxLiteral) this.stream.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed) {
        const ev = this.receiver.next();
        if (!ev) break;
        if (ev.type === 'continue') this.write(Buffer.from('+ go ahead\r\n'));
        else if (ev.type === 'reject') {
          const status = ev.status ?? (ev.code === 'TOOBIG' ? 'NO' : 'BAD');
          this.write(Buffer.from(`${ev.tag ?? '*'} ${status}${ev.code === 'TOOBIG' ? ' [TOOBIG]' : ''} ${ev.text}\r\n`));
          if (ev.fatal) {
            this.write(Buffer.from('* BYE the connection is out of step; reconnect\r\n'));
            this.close();
          }
        } else {
          // One syscall for a command's responses instead of one per line.
          this.stream.cork();
          try {
            await this.session.request(ev.parts);
          } finally {
            while (this.stream.writableCorked) this.stream.uncork();
          }
          if (this.session.state.kind === 'logout') break;
        }
      }
    } catch (err) {
      reportUnexpected(err);
      this.close();
    } finally {
      this.busy = false;
      if (!this.closed && this.stream.isPaused()) this.stream.resume();
    }
  }

  close(destroyAfterMs = 2000): void {
    if (this.closed) return;
    this.closed = true;
    this.session.end();
    if (this.deflate) {
      this.deflate.end();
      this.deflate.once('end', () => this.stream.end());
    } else this.stream.end();
    setTimeout(() => this.socket.destroy(), destroyAfterMs).unref();
  }
}

export async function startImap(deps: ImapDeps, listen: ImapListen): Promise<{ port: number; close(): Promise<void> }> {
  const limits = { ...DEFAULT_IMAP_LIMITS, ...deps.limits };
  const ctx = new ServerContext(deps.store, deps.authLimiter, deps.hostname, limits, deps.allowPlaintextOnLoopback ?? false);
  const conns = new Set<Connection>();
  const perIp = new Map<string, number>();
  const server = net.createServer((socket) => {
    metrics.connections.inc({ protocol: 'imap' });
    const ip = socket.remoteAddress ?? '';
    const n = perIp.get(ip) ?? 0;
    if (n >= limits.maxConnectionsPerIp) {
      socket.end('* BYE too many connections from your address; close some and retry\r\n');
      return;
    }
    perIp.set(ip, n + 1);
    const c = new Connection(socket, ctx, deps, deps.log);
    conns.add(c);
    socket.once('close', () => {
      conns.delete(c);
      const m = (perIp.get(ip) ?? 1) - 1;
      if (m <= 0) perIp.delete(ip);
      else perIp.set(ip, m);
    });
    c.start(listen.implicitTls);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  deps.log.info({ port, implicitTls: listen.implicitTls }, 'imap listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) {
          c.write(Buffer.from('* BYE server shutting down\r\n'));
          c.close(50);
        }
        server.close(() => resolve());
      }),
  };
}
