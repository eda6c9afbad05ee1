/**
 * @module node/managesieve/server
 * The ManageSieve listener (RFC 5804; port 4190 in production) on the shared
 * net layer (node/net): accept-time error handling, the per-IP and total
 * limits and the memory high-water refusal of new connections (serve,
 * sharedGate) and of scripts still arriving (NO (TRYLATER)), the connection's
 * I/O with STARTTLS in place and the idle timeout (LineConnection). Socket
 * bytes go through the receiver into a session; until the client has
 * authenticated the receiver takes only limits.preLoginMaxBytes per line and
 * literal, as IMAP does, so an unauthenticated client cannot make the node
 * hold a script-sized literal.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { LineConnection, listenOn, memoryBudget, serve, sharedGate } from '../net/index.js';
import type { Store } from '../store/index.js';
import { SIEVE_LIMITS } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import { connectionId, type Logger } from '../util/log.js';
import { isLoopback } from '../util/loopback.js';
import { Receiver } from './receiver.js';
import { SieveSession } from './session.js';

export interface ManageSieveDeps {
  store: Store;
  log: Logger;
  authLimiter: AuthLimiter;
  tls: { secureContext(): tls.SecureContext };
  limits?: Partial<ManageSieveLimits>;
}

export interface ManageSieveLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number;
  maxLineBytes: number;
  /** Longest line and largest literal before AUTHENTICATE succeeds (an AUTHENTICATE PLAIN fits in a few hundred bytes). */
  preLoginMaxBytes: number;
  allowPlaintextOnLoopback: boolean;
}

const DEFAULTS: ManageSieveLimits = {
  maxConnections: 1000,
  maxConnectionsPerIp: 20,
  idleTimeoutMs: 30 * 60_000,
  maxLineBytes: 8192,
  preLoginMaxBytes: 8 * 1024,
  allowPlaintextOnLoopback: true,
};

export interface ManageSieveServer {
  port: number;
  close(): Promise<void>;
}

export async function startManageSieve(deps: ManageSieveDeps, listen: { host: string; port: number }): Promise<ManageSieveServer> {
  const limits = { ...DEFAULTS, ...deps.limits };
  const conns = new Set<() => void>();
  // Scripts are small: a literal may be a little over the script limit so the reply can say why.
  // Near the memory high-water mark a script still arriving is refused for now (NO (TRYLATER)), as IMAP refuses literals.
  const admit = () => !memoryBudget().underPressure();
  const authenticated = { maxLine: limits.maxLineBytes, maxLiteral: SIEVE_LIMITS.maxScriptBytes * 2, when: null, admit };
  const preLogin = { maxLine: Math.min(limits.maxLineBytes, limits.preLoginMaxBytes), maxLiteral: limits.preLoginMaxBytes, when: 'before authentication; AUTHENTICATE first', admit };

  function accept(raw: net.Socket, remote: string): void {
    const cid = connectionId();
    const log = deps.log.child({ proto: 'managesieve', cid, remote });
    const receiver = new Receiver(preLogin);
    const conn: LineConnection = new LineConnection(raw, {
      protocol: 'managesieve',
      log,
      tls: deps.tls,
      idleTimeoutMs: limits.idleTimeoutMs,
      onIdle: () => void conn.write('BYE "idle too long; reconnect when you need me"\r\n').then(() => conn.end()),
      onData: (chunk) => {
        // The limits follow the state the bytes arrive in (UNAUTHENTICATE returns to the pre-login ones).
        receiver.limits = session.state.kind === 'auth' ? authenticated : preLogin;
        session.receive(receiver.push(chunk));
      },
      onUpgrade: () => receiver.reset(),
      onClose: () => {
        conns.delete(destroy);
        session.closedByPeer();
      },
    });
    const destroy = () => conn.destroy();
    conns.add(destroy);
    const session = new SieveSession(conn, {
      id: cid,
      remote,
      secure: false,
      plaintextOk: limits.allowPlaintextOnLoopback && isLoopback(remote),
      store: deps.store,
      authLimiter: deps.authLimiter,
      log,
    });
    void conn.start(false).then(() => session.greet());
  }

  const server = serve({
    protocol: 'managesieve',
    log: deps.log,
    gate: sharedGate(deps.store, 'managesieve', { perIp: limits.maxConnectionsPerIp, total: limits.maxConnections }),
    implicitTls: false,
    // RFC 5804 §1.3: BYE with TRYLATER, a temporary condition the client retries.
    refusal: (why) =>
      why === 'memory'
        ? 'BYE (TRYLATER) "the server is short of memory right now; try again in a few minutes"\r\n'
        : 'BYE (TRYLATER) "too many connections from your address; close some and retry"\r\n',
    accept,
  });
  const port = await listenOn(server, listen.port, listen.host);
  deps.log.info({ host: listen.host, port }, 'managesieve listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const d of conns) d();
      }),
  };
}
