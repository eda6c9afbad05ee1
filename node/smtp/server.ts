/**
 * @module node/smtp/server
 * `startSmtp`: one smtp-server listener in MX or submission mode, with the
 * EHLO extensions (SIZE, PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES,
 * STARTTLS, DSN), TLS material fetched from deps.tls on every handshake,
 * per-IP connection limits and timeouts, and the adaptive early-talker
 * pause (greet-pause.ts) on the MX. Session logic lives in inbound.ts
 * and submission.ts.
 */
import { randomBytes } from 'node:crypto';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { cpuClock, IpGate, memoryBudget, netMetrics, normalizeIp } from '../net/index.js';
import { connectionId } from '../util/log.js';
import { metrics, recordCommand } from '../util/metrics.js';
import { makeContext } from './context.js';
import { replies } from './errors.js';
import { mxHandlers } from './inbound.js';
import { submissionHandlers } from './submission.js';
import type { SmtpDeps, SmtpListen, SmtpServerHandle } from './types.js';
import { isLoopback } from '../util/loopback.js';
import { GreetPause, greetPauseOption, patchGreetPause } from './greet-pause.js';
import { patchCidrParsing } from './cidr.js';

const ENHANCED_PREFIX = /^([245]\.\d{1,3}\.\d{1,3}) (.*)$/s;
const HAVEN = Symbol.for('haven.smtp');
const LOOPBACK_AUTH = Symbol.for('haven.smtp.loopbackAuth');

/**
 * allowPlaintextAuthOnLoopback for submission on 587: smtp-server's
 * allowInsecureAuth is all or nothing, so for servers that ask for it, AUTH
 * from a loopback address skips the STARTTLS-first check (the option is
 * switched on only for that synchronous check). Everyone else still must
 * STARTTLS first.
 */
function patchLoopbackAuth(): void {
  const proto = SMTPConnection.prototype as unknown as {
    handler_AUTH(command: unknown, callback: unknown): unknown;
    remoteAddress: string;
    [LOOPBACK_AUTH]?: true;
    _server: { options: Record<string | symbol, unknown> };
  };
  if (proto[LOOPBACK_AUTH]) return;
  const original = proto.handler_AUTH;
  proto.handler_AUTH = function (this: typeof proto, command: unknown, callback: unknown) {
    const options = this._server?.options;
    if (!options?.[LOOPBACK_AUTH] || options.allowInsecureAuth || !isLoopback(this.remoteAddress ?? '')) return original.call(this, command, callback);
    options.allowInsecureAuth = true;
    try {
      return original.call(this, command, callback);
    } finally {
      options.allowInsecureAuth = false;
    }
  };
  proto[LOOPBACK_AUTH] = true;
}

/**
 * smtp-server derives the enhanced status code from the reply code alone
 * (550 is always 5.1.1), which would mislabel "relay denied" (5.7.1) and
 * friends. Our SmtpError messages start with their enhanced code; for servers
 * we created, send() uses that code instead of the library's guess.
 */
function patchEnhancedCodes(): void {
  const proto = SMTPConnection.prototype as unknown as {
    send(code: number, data?: unknown, context?: unknown): void;
    [HAVEN]?: true;
    _server: { options: Record<symbol, unknown> };
    _socket?: import('node:net').Socket;
  };
  if (proto[HAVEN]) return;
  const original = proto.send;
  proto.send = function (this: typeof proto, code: number, data?: unknown, context?: unknown) {
    if (!this._server?.options?.[HAVEN]) return original.call(this, code, data, context);
    const socket = this._socket;
    batchReplies(socket, code);
    try {
      if (typeof data === 'string') {
        const m = ENHANCED_PREFIX.exec(data);
        if (m && m[1][0] === String(code)[0]) return original.call(this, code, `${m[1]} ${m[2]}`, false);
      }
      return original.call(this, code, data, context);
    } finally {
      // A 220 (greeting, or STARTTLS about to hand the socket to TLS) and the replies that close go out at once, with anything before them.
      if (code === 220 || code === 221 || code === 421) flushReplies(socket);
    }
  };
  proto[HAVEN] = true;
}

/**
 * RFC 2920 §3.2: a client that pipelines (MAIL, RCPT and DATA in one packet,
 * as Postfix does) gets its replies in order, and the server may send them in
 * groups. smtp-server writes each reply on its own, a system call apiece; our
 * hooks answer MAIL and RCPT in the same turn, so replies written in one turn
 * are gathered (cork) and leave together when the turn ends (process.nextTick
 * runs before any I/O is waited for, so nothing is held back). A client that
 * waits for each reply sees no difference.
 */
function batchReplies(socket: import('node:net').Socket | undefined, code: number): void {
  if (!socket || socket.writableCorked || code === 220 || code === 221 || code === 421 || socket.destroyed) return;
  socket.cork();
  process.nextTick(flushReplies, socket);
}

function flushReplies(socket: import('node:net').Socket | undefined): void {
  while (socket && socket.writableCorked > 0) socket.uncork();
}

/**
 * Wraps a session hook so its outcome is counted as a command for /metrics:
 * ok, no (a reply code: refused), or error (a failure without one).
 */
function countReplies(protocol: string) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return <F extends (...args: any[]) => unknown>(fn: F): F =>
    ((...args: unknown[]) => {
      const started = performance.now();
      const cpu = cpuClock(protocol);
      const cb = args[args.length - 1] as (err?: (Error & { responseCode?: number }) | null, ...rest: unknown[]) => void;
      args[args.length - 1] = (err?: (Error & { responseCode?: number }) | null, ...rest: unknown[]) => {
        recordCommand(protocol, !err ? 'ok' : err.responseCode ? 'no' : 'error', (performance.now() - started) / 1000);
        cpu();
        cb(err, ...rest);
      };
      return fn(...args);
    }) as F;
}

/** Random bytes for session ids, drawn POOL_IDS ids at a time. */
const ID_BYTES = 10;
const POOL_IDS = 256;
let idPool = Buffer.alloc(0);
let idAt = 0;

/**
 * A session id as smtp-server makes it (80 random bits as 16 base-32
 * characters, unique across restarts: it names the message in our Received
 * field and 250 reply), from a pool of random bytes rather than a
 * synchronous call into OpenSSL for every connection.
 */
export function sessionId(): string {
  if (idAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * POOL_IDS);
    idAt = 0;
  }
  const hex = idPool.toString('hex', idAt, idAt + ID_BYTES);
  idAt += ID_BYTES;
  return BigInt(`0x${hex}`).toString(32).padStart(16, '0');
}

/**
 * smtp-server's `_handleProxy` runs for every accepted socket: without the
 * PROXY protocol it only names the session (and checks ignoredHosts) and
 * continues on the next turn. Ours names it from the pool; a server that uses
 * either option keeps the library's own.
 */
function pooledSessionIds(server: SMTPServer): void {
  const s = server as unknown as {
    options: SMTPServerOptions;
    _handleProxy(socket: import('node:net').Socket, cb: (err: Error | null, opts?: { id: string; ignore?: boolean }) => void): void;
  };
  if (s.options.useProxy || s.options.ignoredHosts) return;
  s._handleProxy = (_socket, cb) => {
    const opts = { id: sessionId() };
    setImmediate(() => cb(null, opts));
  };
}

/** A Map stand-in so every handshake (STARTTLS, implicit TLS, with or without SNI) asks deps.tls for the current context. */
class LiveContexts extends Map<string, tls.SecureContext> {
  constructor(private readonly source: { secureContext(): tls.SecureContext }) {
    super();
  }
  override get(): tls.SecureContext {
    return this.source.secureContext();
  }
}

export async function startSmtp(deps: SmtpDeps, listen: SmtpListen): Promise<SmtpServerHandle> {
  patchEnhancedCodes();
  patchLoopbackAuth();
  patchGreetPause();
  patchCidrParsing();
  const ctx = makeContext(deps);
  const { limits } = ctx;
  // smtp-server guards its own sockets from accept on (and, on 465, calls onConnect only after TLS); the count is the shared gate's.
  const gate = new IpGate({ perIp: limits.maxConnectionsPerIp });
  const limited = new WeakSet<SMTPServerSession>();
  const log = deps.log.child({ proto: listen.mode === 'mx' ? 'smtp' : 'submission' });
  ctx.log = log;
  const handlers = listen.mode === 'mx' ? { ...mxHandlers(ctx), onAuth: undefined, onClose: undefined } : submissionHandlers(ctx);
  const protocol = listen.mode === 'mx' ? 'smtp' : 'submission';
  ctx.protocol = protocol;
  const counted = countReplies(protocol);

  type OnData = (stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void) => void;
  /** The DATA deadline (limits.maxDataMs): past it the client gets 421 and the connection closes. */
  const withDeadline =
    (onData: OnData): OnData =>
    (stream, session, cb) => {
      const timer = setTimeout(() => {
        const conns = (server as unknown as { connections: Set<{ session: SMTPServerSession; send(code: number, text: string): void; close(): void }> }).connections;
        for (const c of conns) {
          if (c.session !== session) continue;
          log.info({ cid: session.id, ms: limits.maxDataMs }, 'DATA took too long; connection closed');
          c.send(421, `4.4.2 ${deps.hostname} message not received within ${Math.round(limits.maxDataMs / 1000)} seconds; closing`);
          c.close();
        }
      }, limits.maxDataMs);
      stream.once('end', () => clearTimeout(timer));
      onData(stream, session, (err, message) => {
        clearTimeout(timer);
        cb(err, message);
      });
    };

  // Submission clients authenticate: no early-talker pause for them.
  const greetPause = listen.mode === 'mx' ? (deps.greetPause instanceof GreetPause ? deps.greetPause : new GreetPause(deps.greetPause)) : null;
  const options: SMTPServerOptions & Record<symbol, unknown> = {
    [HAVEN]: true,
    [greetPauseOption]: greetPause,
    [LOOPBACK_AUTH]: listen.mode === 'submission' && !!deps.allowPlaintextAuthOnLoopback,
    name: deps.hostname,
    secure: listen.implicitTls,
    logger: false,
    size: limits.maxMessageBytes,
    rejectOversized: true,
    maxRecipients: limits.maxRecipients,
    maxClients: limits.maxClients,
    socketTimeout: limits.socketTimeoutMs,
    closeTimeout: 5_000,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    hideREQUIRETLS: true,
    disableReverseLookup: true,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: listen.mode === 'mx',
    disabledCommands: listen.mode === 'mx' ? ['AUTH'] : [],
    minVersion: 'TLSv1.2',
    SNICallback: (_name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => {
      try {
        cb(null, deps.tls.secureContext());
      } catch (err) {
        cb(err as Error);
      }
    },
    onConnect(session, cb) {
      metrics.connections.inc({ protocol });
      if (memoryBudget().underPressure()) {
        netMetrics.refused.inc({ protocol, reason: 'memory' });
        return cb(replies.memoryBusyConnect());
      }
      const why = gate.admit(normalizeIp(session.remoteAddress));
      if (why) {
        netMetrics.refused.inc({ protocol, reason: why });
        return cb(replies.tooManyConnections());
      }
      limited.add(session);
      cb();
    },
    onClose(session) {
      if (limited.has(session)) {
        limited.delete(session);
        gate.release(normalizeIp(session.remoteAddress));
      }
      handlers.onClose?.(session);
    },
    onMailFrom: counted(handlers.onMailFrom),
    onRcptTo: counted(handlers.onRcptTo),
    onData: counted(withDeadline(handlers.onData)),
    ...(handlers.onAuth ? { onAuth: counted(handlers.onAuth) } : {}),
  };
  const server = new SMTPServer(options);
  pooledSessionIds(server);
  (server as unknown as { secureContext: Map<string, tls.SecureContext> }).secureContext = new LiveContexts(deps.tls);
  server.on('error', (err) => log.warn({ err: (err as Error).message }, 'smtp connection error'));

  const port = await new Promise<number>((resolve, reject) => {
    const net = (server as unknown as { server: import('node:net').Server }).server;
    net.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      net.off('error', reject);
      const addr = net.address();
      resolve(typeof addr === 'object' && addr ? addr.port : listen.port);
    });
  });
  log.info({ port, host: listen.host, id: connectionId() }, `${listen.mode} listening`);
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
