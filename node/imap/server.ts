/**
 * @module node/imap/server
 * The listener and one Connection per client: the byte stream (plain, TLS
 * after STARTTLS or from the first byte, deflate after COMPRESS), the
 * receiver feeding whole requests to the session one at a time, limits on
 * connections per IP and idle time, and a clean BYE on shutdown.
 */
import type net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { cpuClock, guard, listenOn, memoryBudget, netMetrics, serve, sharedGate } from '../net/index.js';
import type { Store } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import { connectionId, type Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { Receiver, type ReceiverLimits } from './receiver.js';
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

/** The receiver's limits before login: a few KB, whatever the post-login limits (Dovecot's login processes do the same). */
function preLoginLimits(max: number): ReceiverLimits {
  return { maxLine: max, maxLiteral: max, maxRequest: max, maxDiscard: max };
}

function postLoginLimits(l: ImapLimits): ReceiverLimits {
  return {
    maxLine: l.maxLine,
    maxLiteral: Math.max(l.maxLiteral, l.appendLimit),
    maxAppend: l.appendLimit,
    maxRequest: l.maxLiteral * 4,
    maxNonSync: l.literalMinus ? 4096 : undefined,
    // A client that sent a literal we refuse under LITERAL+ cannot take it back: read and drop it.
    maxDiscard: Math.max(l.maxLiteral * 4, 256 * 1024 * 1024),
  };
}

/** Longest run of one connection's pipelined commands before the loop serves others. */
const SLICE_MS = 5;

/** Unsent output past which the next command waits for the client to read (it is not read from the socket meanwhile). */
const OUTPUT_HIGH = 1024 * 1024;

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
  private flushQueued = false;
  /** Responses of this turn of the loop, deflated together (deflateNow). */
  private toDeflate: Buffer[] = [];
  private toDeflateBytes = 0;
  private loggedIn = false;
  /** Literal bytes of the request being read, reserved in the memory budget. */
  private held = 0;
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
    this.receiver = new Receiver({ ...preLoginLimits(ctx.limits.preLoginMaxBytes), admit: (size) => this.admit(size) });
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

  /** A literal is about to be read: its bytes must fit the process's memory budget. */
  private admit(size: number): boolean {
    if (!memoryBudget().reserve(size, 'imap')) return false;
    this.held += size;
    return true;
  }

  private releaseHeld(): void {
    if (this.held) memoryBudget().release(this.held);
    this.held = 0;
  }

  write(data: Buffer): void {
    if (this.closed) return;
    if (this.deflate) {
      // One deflate write and one sync flush per turn of the loop, not per line: each is a trip to the thread pool
      // and a few bytes of output, which a client pipelining thousands of tiny commands would otherwise multiply.
      this.toDeflate.push(data);
      this.toDeflateBytes += data.length;
      if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(() => this.deflateNow());
      }
    } else this.stream.write(data);
    // A client that stopped reading: what we hold for it is capped, then it loses the connection.
    if (this.unsent > this.ctx.limits.maxUnsentBytes) {
      netMetrics.outputOverflow.inc({ protocol: 'imap' });
      this.session.log.info({ unsent: this.unsent }, 'client stopped reading; connection closed');
      this.close(0);
    }
  }

  private deflateNow(): void {
    this.flushQueued = false;
    if (!this.deflate || this.toDeflate.length === 0) return;
    const out = this.toDeflate.length === 1 ? this.toDeflate[0] : Buffer.concat(this.toDeflate, this.toDeflateBytes);
    this.toDeflate = [];
    this.toDeflateBytes = 0;
    this.deflate.write(out);
    this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
  }

  get unsent(): number {
    return this.toDeflateBytes + (this.deflate?.writableLength ?? 0) + this.stream.writableLength;
  }

  backpressure(): Promise<void> | null {
    // Asked after each batch of a long response: let what is written go now (the command corked the stream), so the client reads while we work.
    while (this.stream.writableCorked) this.stream.uncork();
    // What this turn produced goes to the deflater now, so it is counted and paced like the rest.
    this.deflateNow();
    const out = this.deflate ?? this.stream;
    if (this.closed || out.writableLength < OUTPUT_HIGH) return null;
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

  /** Resolves once the client has read enough of our output (or the connection is gone). */
  private reader(): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (!this.closed && this.unsent > OUTPUT_HIGH / 2) return;
        this.stream.off('drain', check);
        this.deflate?.off('drain', check);
        this.socket.off('close', check);
        resolve();
      };
      this.stream.on('drain', check);
      this.deflate?.on('drain', check);
      this.socket.on('close', check);
      check();
    });
  }

  startTls(): Promise<boolean> {
    // The OK to STARTTLS must reach the client in plaintext before the handshake.
    while (this.socket.writableCorked) this.socket.uncork();
    this.stream.off('data', this.onData);
    // Nothing pipelined in plaintext may survive into the TLS session.
    this.receiver.reset();
    const t = guard(
      new tls.TLSSocket(this.socket, {
        isServer: true,
        secureContext: this.deps.tls.secureContext(),
        SNICallback: (_name, cb) => cb(null, this.deps.tls.secureContext()),
      }),
      'imap',
    );
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
    this.deflate.on('error', () => this.close(0));
    // Inflated bytes go through the same receiver, limits and pausing as plain ones:
    // compression changes how many bytes cross the wire, not how many we will hold.
    const inflate = (this.inflate = zlib.createInflateRaw({ windowBits: 15 }));
    inflate.on('data', this.onData);
    inflate.on('error', () => this.close(0));
    this.stream.off('data', this.onData);
    this.stream.on('data', (b: Buffer) => {
      if (this.closed) return;
      // The inflater's own queue is bounded too: the socket waits while it is full.
      if (!inflate.write(b)) {
        this.stream.pause();
        inflate.once('drain', () => this.resumeInput());
      }
    });
    const rest = this.receiver.drain();
    if (rest.length) inflate.write(rest);
  }

  /** Where request bytes come from now: the inflater after COMPRESS, else the socket. */
  private get input(): zlib.InflateRaw | net.Socket {
    return this.inflate ?? this.stream;
  }

  private pauseInput(): void {
    this.input.pause();
  }

  private resumeInput(): void {
    if (this.closed || this.busy) return;
    // Only what was paused: resuming a stream nobody reads yet (a TLS socket mid-handshake) would drop its data.
    if (this.input.isPaused()) this.input.resume();
    if (this.inflate && this.stream.isPaused() && this.inflate.writableLength < this.inflate.writableHighWaterMark) this.stream.resume();
  }

  private bytes(b: Buffer): void {
    if (this.closed) return;
    if (this.session.state.kind !== 'notauth') this.socket.setTimeout(this.ctx.limits.idleTimeoutMs);
    this.receiver.push(b);
    if (this.busy && this.receiver.pending > 4 * this.ctx.limits.maxLine + this.ctx.limits.maxLiteral) this.pauseInput();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    let slice = performance.now();
    try {
      while (!this.closed) {
        // A client with thousands of commands queued gets them handled in slices, other sessions in between.
        if (performance.now() - slice > SLICE_MS) {
          await new Promise<void>((r) => setImmediate(r));
          slice = performance.now();
          continue;
        }
        // Pipelined commands wait while the client leaves our answers unread: no reading, no new work.
        if (this.unsent > OUTPUT_HIGH) {
          this.pauseInput();
          await this.reader();
          continue;
        }
        const ev = this.receiver.next();
        if (!ev) break;
        if (ev.type === 'continue') this.write(Buffer.from('+ go ahead\r\n'));
        else if (ev.type === 'reject') {
          this.releaseHeld();
          const status = ev.status ?? (ev.code === 'TOOBIG' ? 'NO' : 'BAD');
          this.write(Buffer.from(`${ev.tag ?? '*'} ${status}${ev.code === 'PARSE' ? '' : ` [${ev.code}]`} ${ev.text}\r\n`));
          if (ev.fatal) {
            this.write(Buffer.from('* BYE the connection is out of step; reconnect\r\n'));
            this.close();
          }
        } else {
          // One syscall for a command's responses instead of one per line.
          this.stream.cork();
          const cpu = cpuClock('imap');
          try {
            await this.session.request(ev.parts);
          } finally {
            cpu();
            this.releaseHeld();
            while (this.stream.writableCorked) this.stream.uncork();
          }
          if (!this.loggedIn && this.session.state.kind !== 'notauth') {
            // Logged in: the post-login limits apply from the next request on.
            this.loggedIn = true;
            this.receiver.limits = { ...postLoginLimits(this.ctx.limits), admit: this.receiver.limits.admit };
          }
          if (this.session.state.kind === 'logout') break;
        }
      }
    } catch (err) {
      reportUnexpected(err);
      this.close();
    } finally {
      this.busy = false;
      if (!this.closed) this.resumeInput();
    }
  }

  close(destroyAfterMs = 2000): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseHeld();
    this.session.end();
    // Input not yet handled is dropped at once, and no more is read: nothing more is inflated, parsed
    // or even allocated for a client we are done with (its BYE still goes out).
    this.inflate?.destroy();
    this.receiver.reset();
    this.socket.pause();
    // A peer that is gone gets nothing more: no compressing, no flushing for it.
    if (this.socket.destroyed || !this.socket.writable) destroyAfterMs = 0;
    if (this.deflate && destroyAfterMs > 0) {
      this.deflateNow();
      this.deflate.end();
      this.deflate.once('end', () => this.stream.end());
    } else if (destroyAfterMs > 0) this.stream.end();
    if (destroyAfterMs <= 0) {
      this.deflate?.destroy();
      this.socket.destroy();
      return;
    }
    setTimeout(() => this.socket.destroy(), destroyAfterMs).unref();
  }
}

export async function startImap(deps: ImapDeps, listen: ImapListen): Promise<{ port: number; close(): Promise<void> }> {
  const limits = { ...DEFAULT_IMAP_LIMITS, ...deps.limits };
  // One message body may sit unread on top of the 1 MB a response waits at.
  if (deps.limits?.maxUnsentBytes === undefined) limits.maxUnsentBytes = Math.max(limits.appendLimit, limits.maxLiteral) + 8 * 1024 * 1024;
  const ctx = new ServerContext(deps.store, deps.authLimiter, deps.hostname, limits, deps.allowPlaintextOnLoopback ?? false);
  const conns = new Set<Connection>();
  // Connections per client address, counted across every IMAP listener of one store (143 and 993 together).
  const gate = sharedGate(deps.store, 'imap', { perIp: limits.maxConnectionsPerIp });
  const server = serve({
    protocol: 'imap',
    log: deps.log,
    gate,
    implicitTls: listen.implicitTls,
    refusal: (why) =>
      why === 'memory' ? '* BYE the server is short of memory right now; try again in a few minutes\r\n' : '* BYE too many connections from your address; close some and retry\r\n',
    accept(socket) {
      const c = new Connection(socket, ctx, deps, deps.log);
      conns.add(c);
      socket.once('close', () => conns.delete(c));
      c.start(listen.implicitTls);
    },
  });
  const port = await listenOn(server, listen.port, listen.host);
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
