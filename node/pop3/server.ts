/**
 * @module node/pop3/server
 * The POP3 listener on the shared net layer (node/net): accepts connections
 * (plain with STLS, or implicit TLS) under the connection limits (serve,
 * sharedGate) and feeds socket bytes through the receiver into a session;
 * the session's I/O (backpressured writes, the in-place TLS upgrade, the
 * autologout timer) is node/net's LineConnection.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { LineConnection, listenOn, serve, sharedGate } from '../net/index.js';
import type { Store } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import { connectionId, type Logger } from '../util/log.js';
import type { Pop3Backend } from './port.js';
import { Receiver } from './receiver.js';
import { Pop3Session } from './session.js';
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

export async function startPop3(deps: Pop3Deps, listen: Pop3Listen): Promise<Pop3Server> {
  const limits: Pop3Limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const backend = deps.backend ?? new StoreMaildrops(deps.store);
  /** Every open connection's destroyer: close() ends sessions without UPDATE. */
  const conns = new Set<() => void>();
  // 110 and 995 count together.
  const gate = sharedGate(deps.store, 'pop3', { perIp: limits.maxConnectionsPerIp, total: limits.maxConnections });

  function accept(raw: net.Socket, remote: string): void {
    const cid = connectionId();
    const log = deps.log.child({ proto: 'pop3', cid, remote });
    const receiver = new Receiver(limits.maxLineBytes);
    // RFC 1939 autologout, our own timer rather than socket.setTimeout: it must
    // survive a busy command and restart on every line received and reply sent.
    const conn: LineConnection = new LineConnection(raw, {
      protocol: 'pop3',
      log,
      tls: deps.tls,
      idleTimeoutMs: limits.idleTimeoutMs,
      onIdle: () => (session.busy ? conn.refreshIdle() : void session.timeout()),
      onData: (chunk) => session.receive(receiver.push(chunk)),
      onUpgrade: () => receiver.reset(),
      onClose: () => {
        conns.delete(destroy);
        session.closedByPeer();
        log.debug('pop3 connection closed');
      },
    });
    const destroy = () => conn.destroy();
    conns.add(destroy);

    const session: Pop3Session = new Pop3Session(conn, {
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
    void conn.start(listen.implicitTls).then((ok) => {
      if (ok) void session.greet();
    });
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
