/**
 * @module node/pop3/server
 * The POP3 listener: accepts connections (plain with STLS, or implicit TLS),
 * enforces connection limits, feeds socket bytes through the receiver into a
 * session, and implements the session's I/O: backpressure-aware writes and
 * the in-place TLS upgrade. TLS material comes from deps.tls on every
 * handshake, so a renewed certificate applies to the next connection.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { guard, IpGate, listenOn, serve } from '../net/index.js';
import type { Store } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import { connectionId, type Logger } from '../util/log.js';
import type { Pop3Backend } from './port.js';
import { Receiver } from './receiver.js';
import { Pop3Session, type Pop3Io } from './session.js';
import { DEFAULT_LIMITS, type Pop3Limits } from './state.js';
import { StoreMaildrops } from './store-maildrop.js';
import { isLoopback } from '../util/loopback.js';

export interface Pop3Deps {
  store: Store;
  log: Logger;
  authLimiter: AuthLimiter;
  tls: { secureContext(): tls.SecureContext };
  hostname: string;
  limits?: Partial<Pop3Limits>;
  /** Replaces the store-backed maildrops (tests of failure paths). */
  backend?: Pop3Backend;
}

export interface Pop3Listen {
  host: string;
  port: number;
  implicitTls: boolean;
}

export interface Pop3Server {
  port: number;
  close(): Promise<void>;
}

/** Per-IP connection counts shared by every POP3 listener on one store (110 and 995 count together). */
const gates = new WeakMap<Store, IpGate>();

function gateFor(store: Store, limits: Pop3Limits): IpGate {
  let g = gates.get(store);
  if (!g || g.limits.perIp !== limits.maxConnectionsPerIp || g.limits.total !== limits.maxConnections) {
    gates.set(store, (g = new IpGate({ perIp: limits.maxConnectionsPerIp, total: limits.maxConnections })));
  }
  return g;
}

export async function startPop3(deps: Pop3Deps, listen: Pop3Listen): Promise<Pop3Server> {
  const limits: Pop3Limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const backend = deps.backend ?? new StoreMaildrops(deps.store);
  /** Every open connection's destroyer: close() ends sessions without UPDATE. */
  const conns = new Set<() => void>();
  const gate = gateFor(deps.store, limits);

  const tlsOptions = (): tls.TLSSocketOptions => ({
    isServer: true,
    secureContext: deps.tls.secureContext(),
    SNICallback: (_name, cb) => cb(null, deps.tls.secureContext()),
  });

  /** Resolves when the server-side handshake on `raw` completes; destroys the socket when it fails. */
  function handshake(raw: net.Socket): Promise<tls.TLSSocket> {
    const secure = guard(new tls.TLSSocket(raw, tlsOptions()), 'pop3');
    return new Promise((resolve, reject) => {
      const failed = (err?: Error) => {
        secure.destroy();
        reject(err ?? new Error('connection closed during the TLS handshake'));
      };
      secure.once('secure', () => {
        secure.off('error', failed).off('close', failed);
        resolve(secure);
      });
      secure.once('error', failed).once('close', failed);
    });
  }

  function accept(raw: net.Socket, remote: string): void {
    const cid = connectionId();
    const log = deps.log.child({ proto: 'pop3', cid, remote });
    const destroy = () => {
      socket.destroy();
      raw.destroy();
    };
    conns.add(destroy);
    raw.setNoDelay(true);

    let socket: net.Socket = raw;
    const receiver = new Receiver(limits.maxLineBytes);
    // RFC 1939 autologout, our own timer rather than socket.setTimeout: it must
    // survive a busy command and restart on every line received and reply sent.
    // A TLS handshake that stalls that long is dropped without a word (no plaintext into a TLS stream).
    let handshaking = listen.implicitTls;
    const idle = setTimeout(() => {
      if (handshaking) destroy();
      else if (session.busy) idle.refresh();
      else void session.timeout();
    }, limits.idleTimeoutMs);
    idle.unref();
    const onData = (chunk: Buffer) => {
      idle.refresh();
      session.receive(receiver.push(chunk));
    };
    let gone = false;
    const onClose = () => {
      if (gone) return;
      gone = true;
      clearTimeout(idle);
      conns.delete(destroy);
      session.closedByPeer();
      log.debug('pop3 connection closed');
    };
    const attach = (s: net.Socket) => {
      socket = s;
      s.on('data', onData);
      s.on('error', (err) => {
        log.debug({ err: err.message }, 'pop3 socket error');
        s.destroy();
      });
      s.once('close', onClose);
    };

    const io: Pop3Io = {
      write(reply) {
        idle.refresh();
        return new Promise((resolve) => {
          if (socket.destroyed || !socket.writable) return resolve();
          if (socket.write(reply)) return resolve();
          const done = () => {
            socket.off('drain', done).off('close', done);
            resolve();
          };
          socket.on('drain', done).on('close', done);
        });
      },
      async upgrade(reply) {
        // Stop reading plaintext before the +OK leaves, so the ClientHello stays
        // buffered on the socket for the TLS layer instead of reaching the receiver.
        raw.off('data', onData);
        raw.off('close', onClose);
        raw.pause();
        receiver.reset();
        await new Promise<void>((resolve) => raw.write(reply, () => resolve()));
        raw.once('close', onClose);
        handshaking = true;
        idle.refresh();
        try {
          attach(await handshake(raw));
          return true;
        } catch (err) {
          log.debug({ err: (err as Error).message }, 'pop3 STLS handshake failed');
          return false;
        } finally {
          handshaking = false;
        }
      },
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      end: () => {
        socket.end();
        // A client that never reads its last reply must not hold the connection open.
        setTimeout(() => socket.destroy(), 5_000).unref();
      },
    };

    const session: Pop3Session = new Pop3Session(io, {
      id: cid,
      remote,
      loopback: isLoopback(remote),
      secure: listen.implicitTls,
      hostname: deps.hostname,
      limits,
      backend,
      authLimiter: deps.authLimiter,
      log,
    });
    log.debug('pop3 connection');

    if (!listen.implicitTls) {
      attach(raw);
      void session.greet();
      return;
    }
    raw.once('close', onClose);
    handshake(raw).then(
      (secure) => {
        handshaking = false;
        attach(secure);
        void session.greet();
      },
      (err: Error) => log.debug({ err: err.message }, 'pop3 TLS handshake failed'),
    );
  }

  const server = serve({
    protocol: 'pop3',
    log: deps.log,
    gate,
    implicitTls: listen.implicitTls,
    refusal: (why) =>
      why === 'memory'
        ? '-ERR [SYS/TEMP] the server is short of memory right now; try again in a few minutes\r\n'
        : '-ERR [SYS/TEMP] too many connections from your address; close some and retry\r\n',
    accept,
  });
  await listenOn(server, listen.port, listen.host);
  const port = (server.address() as net.AddressInfo).port;
  deps.log.info({ host: listen.host, port, implicitTls: listen.implicitTls }, 'pop3 listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open sessions end without UPDATE: nothing they marked is deleted.
        for (const destroy of conns) destroy();
      }),
  };
}
