/**
 * @module node/net/line-connection
 * The I/O of a line protocol whose session never sees a socket (POP3,
 * ManageSieve), written once: backpressure-aware writes, reading switched
 * off and on, a closing end that cannot hang on a client that stops reading,
 * TLS from the first byte or in place after STARTTLS/STLS, and one idle
 * timer that restarts on every chunk read and every reply written. TLS
 * material is asked for on every handshake, so a renewed certificate
 * applies to the next one.
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../util/log.js';
import { guard } from './accept.js';

/** What a session needs from its connection. */
export interface SessionIo<T extends string | Buffer> {
  write(reply: T): Promise<void>;
  /** Writes `reply`, then runs the TLS handshake on the same connection; false (connection closed) when it fails. */
  upgrade(reply: T): Promise<boolean>;
  pause(): void;
  resume(): void;
  /** Close after what was written is flushed. */
  end(): void;
}

export interface LineConnectionOptions {
  /** Metrics label and log wording (pop3, managesieve). */
  protocol: string;
  log: Logger;
  tls: { secureContext(): tls.SecureContext };
  idleTimeoutMs: number;
  /** The idle timer fired outside a handshake (a handshake that stalls is dropped without a word). */
  onIdle(): void;
  /** Bytes read (plain, or decrypted after TLS). */
  onData(chunk: Buffer): void;
  /** Plaintext read before the handshake is thrown away here (CVE-2011-0411). */
  onUpgrade(): void;
  /** The connection is gone, whichever side ended it; called once. */
  onClose(): void;
}

/** A client that never reads its last reply must not hold the connection open past this. */
const END_LINGER_MS = 5_000;

export class LineConnection implements SessionIo<string | Buffer> {
  private socket: net.Socket;
  private handshaking = false;
  private gone = false;
  private readonly idle: NodeJS.Timeout;
  private readonly data = (chunk: Buffer) => {
    this.idle.refresh();
    this.o.onData(chunk);
  };
  private readonly closed = () => {
    if (this.gone) return;
    this.gone = true;
    clearTimeout(this.idle);
    this.o.onClose();
  };

  constructor(
    private readonly raw: net.Socket,
    private readonly o: LineConnectionOptions,
  ) {
    this.socket = raw;
    raw.setNoDelay(true);
    this.idle = setTimeout(() => (this.handshaking ? this.destroy() : this.o.onIdle()), o.idleTimeoutMs);
    this.idle.unref();
  }

  /** Starts reading: in plaintext, or after the handshake of an implicit-TLS port (false when it failed). */
  async start(implicitTls: boolean): Promise<boolean> {
    if (!implicitTls) {
      this.attach(this.raw);
      return true;
    }
    this.raw.once('close', this.closed);
    try {
      this.attach(await this.handshake());
      return true;
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, `${this.o.protocol} TLS handshake failed`);
      return false;
    }
  }

  /** Restarts the idle timer (a session still busy with a long command). */
  refreshIdle(): void {
    this.idle.refresh();
  }

  write(reply: string | Buffer): Promise<void> {
    this.idle.refresh();
    const socket = this.socket;
    return new Promise((resolve) => {
      if (socket.destroyed || !socket.writable) return resolve();
      if (socket.write(reply)) return resolve();
      const done = () => {
        socket.off('drain', done).off('close', done);
        resolve();
      };
      socket.on('drain', done).on('close', done);
    });
  }

  async upgrade(reply: string | Buffer): Promise<boolean> {
    // Stop reading plaintext before the OK leaves, so the ClientHello stays buffered
    // on the socket for the TLS layer and nothing sent ahead of it reaches the session.
    const raw = this.raw;
    raw.off('data', this.data);
    raw.off('close', this.closed);
    raw.pause();
    this.o.onUpgrade();
    await new Promise<void>((resolve) => raw.write(reply, () => resolve()));
    raw.once('close', this.closed);
    this.idle.refresh();
    try {
      this.attach(await this.handshake());
      return true;
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, `${this.o.protocol} STARTTLS handshake failed`);
      return false;
    }
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
    const socket = this.socket;
    setTimeout(() => socket.destroy(), END_LINGER_MS).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.raw.destroy();
  }

  private attach(s: net.Socket): void {
    this.socket = s;
    s.on('data', this.data);
    s.once('close', this.closed);
  }

  /** Resolves when the server-side handshake on the raw socket completes; destroys the socket when it fails. */
  private handshake(): Promise<tls.TLSSocket> {
    this.handshaking = true;
    const secure = guard(
      new tls.TLSSocket(this.raw, { isServer: true, secureContext: this.o.tls.secureContext(), SNICallback: (_name, cb) => cb(null, this.o.tls.secureContext()) }),
      this.o.protocol,
    );
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      const failed = (err?: Error) => {
        secure.destroy();
        reject(err ?? new Error('connection closed during the TLS handshake'));
      };
      secure.once('secure', () => {
        secure.off('error', failed).off('close', failed);
        resolve(secure);
      });
      secure.once('error', failed).once('close', failed);
    }).finally(() => (this.handshaking = false));
  }
}
