/**
 * @module node/managesieve/server
 * The ManageSieve listener (RFC 5804; port 4190 in production): accepts
 * connections under a total and a per-IP limit, feeds socket bytes through
 * the receiver into a session, and does the session's I/O: writes, the
 * STARTTLS upgrade in place, the idle timeout. TLS material comes from
 * deps.tls on every handshake, so a renewed certificate applies at once.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Store } from '../store/index.js';
import { SIEVE_LIMITS } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import { connectionId, type Logger } from '../util/log.js';
import { isLoopback } from '../util/loopback.js';
import { metrics } from '../util/metrics.js';
import { Receiver } from './receiver.js';
import { SieveSession, type SieveIo } from './session.js';

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
  allowPlaintextOnLoopback: boolean;
}

const DEFAULTS: ManageSieveLimits = { maxConnections: 1000, maxConnectionsPerIp: 20, idleTimeoutMs: 30 * 60_000, maxLineBytes: 8192, allowPlaintextOnLoopback: true };

export interface ManageSieveServer {
  port: number;
  close(): Promise<void>;
}

export async function startManageSieve(deps: ManageSieveDeps, listen: { host: string; port: number }): Promise<ManageSieveServer> {
  const limits = { ...DEFAULTS, ...deps.limits };
  const conns = new Set<() => void>();
  const perIp = new Map<string, number>();

  function accept(raw: net.Socket): void {
    const remote = (raw.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    const cid = connectionId();
    const log = deps.log.child({ proto: 'managesieve', cid, remote });
    metrics.connections.inc({ protocol: 'managesieve' });
    raw.on('error', () => raw.destroy());
    if (conns.size >= limits.maxConnections || (perIp.get(remote) ?? 0) >= limits.maxConnectionsPerIp) {
      log.warn('managesieve connection refused: too many connections');
      raw.end('BYE (TRYLATER) "too many connections from your address; close some and retry"\r\n');
      return;
    }
    let socket: net.Socket = raw;
    const destroy = () => {
      socket.destroy();
      raw.destroy();
    };
    conns.add(destroy);
    perIp.set(remote, (perIp.get(remote) ?? 0) + 1);
    // Scripts are small: a literal may be a little over the script limit so the reply can say why.
    const receiver = new Receiver(limits.maxLineBytes, SIEVE_LIMITS.maxScriptBytes * 2);
    let handshaking = false;
    const idle = setTimeout(() => {
      if (!handshaking) void io.write('BYE "idle too long; reconnect when you need me"\r\n').then(() => io.end());
      else destroy();
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
      const n = (perIp.get(remote) ?? 1) - 1;
      if (n > 0) perIp.set(remote, n);
      else perIp.delete(remote);
      session.closedByPeer();
    };
    const attach = (s: net.Socket) => {
      socket = s;
      s.on('data', onData);
      s.on('error', () => s.destroy());
      s.once('close', onClose);
    };
    const io: SieveIo = {
      write: (s) =>
        new Promise((resolve) => {
          idle.refresh();
          if (socket.destroyed || !socket.writable) return resolve();
          if (socket.write(s)) return resolve();
          const done = () => {
            socket.off('drain', done).off('close', done);
            resolve();
          };
          socket.on('drain', done).on('close', done);
        }),
      async upgrade(reply) {
        // Stop reading plaintext before the OK leaves: bytes sent ahead of the handshake must not count (CVE-2011-0411).
        raw.off('data', onData);
        raw.off('close', onClose);
        raw.pause();
        receiver.reset();
        await new Promise<void>((resolve) => raw.write(reply, () => resolve()));
        raw.once('close', onClose);
        handshaking = true;
        const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: deps.tls.secureContext(), SNICallback: (_n, cb) => cb(null, deps.tls.secureContext()) });
        const ok = await new Promise<boolean>((resolve) => {
          secure.once('secure', () => resolve(true));
          secure.once('error', () => resolve(false));
          secure.once('close', () => resolve(false));
        });
        handshaking = false;
        if (!ok) {
          secure.destroy();
          return false;
        }
        attach(secure);
        return true;
      },
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      end: () => {
        socket.end();
        setTimeout(() => socket.destroy(), 5_000).unref();
      },
    };
    const session = new SieveSession(io, {
      id: cid,
      remote,
      secure: false,
      plaintextOk: limits.allowPlaintextOnLoopback && isLoopback(remote),
      store: deps.store,
      authLimiter: deps.authLimiter,
      log,
    });
    attach(raw);
    raw.setNoDelay(true);
    void session.greet();
  }

  const server = net.createServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => deps.log.error({ err }, 'managesieve listener error'));
  const port = (server.address() as net.AddressInfo).port;
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
