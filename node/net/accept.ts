/**
 * @module node/net/accept
 * Accepting a connection, written once for every listener (IMAP, POP3,
 * HTTPS; SMTP's smtp-server guards its own sockets and asks the same IpGate):
 *
 * - the socket gets its error handler the moment it is accepted, before any
 *   other code sees it, so a peer's reset can only ever close that one
 *   connection (an 'error' with no listener would end the whole process);
 * - per-IP and total connection limits, counted once per protocol across its
 *   listeners (110 and 995 share one count);
 * - near the process's memory limit (node/net/budget) new connections are
 *   refused the same way, as a temporary condition;
 * - over the limit, a plaintext port says why in the protocol's words, and
 *   an implicit-TLS port (993, 995, 443) closes: a plaintext line where the
 *   client expects a TLS handshake is never right.
 */
import net from 'node:net';
import type { Logger } from '../util/log.js';
import { metrics } from '../util/metrics.js';
import { memoryBudget } from './budget.js';
import { netMetrics } from './metrics.js';

/** `::ffff:1.2.3.4` and `1.2.3.4` are one client. */
export function normalizeIp(addr: string | undefined): string {
  if (!addr) return 'unknown';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

/**
 * Attaches the one error policy to a socket (or a TLS socket wrapped around
 * one): count it, destroy the socket, nothing else. Idempotent.
 */
export function guard<S extends net.Socket>(socket: S, protocol: string): S {
  if ((socket as S & { [GUARDED]?: true })[GUARDED]) return socket;
  (socket as S & { [GUARDED]?: true })[GUARDED] = true;
  socket.on('error', () => {
    netMetrics.socketErrors.inc({ protocol });
    socket.destroy();
  });
  return socket;
}
const GUARDED = Symbol('haven.net.guarded');

export type Refusal = 'per_ip' | 'total' | 'memory';

/** Open connections per client address and in all, for one protocol. */
export class IpGate {
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(readonly limits: { perIp: number; total?: number }) {}

  /** Takes a slot for `ip`, or says which limit refuses it. */
  admit(ip: string): Refusal | null {
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.limits.perIp) return 'per_ip';
    if (this.limits.total !== undefined && this.total >= this.limits.total) return 'total';
    this.perIp.set(ip, n + 1);
    this.total++;
    return null;
  }

  release(ip: string): void {
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
    this.total = Math.max(0, this.total - 1);
  }

  count(ip?: string): number {
    return ip === undefined ? this.total : (this.perIp.get(ip) ?? 0);
  }
}

/** One gate per protocol per owner (the store a node's listeners share): 143 and 993 count together, as do 110 and 995. */
const gates = new WeakMap<object, Map<string, IpGate>>();

/** The gate of `protocol` for `owner`; a new one when the limits changed (a listener restarted with other settings). */
export function sharedGate(owner: object, protocol: string, limits: { perIp: number; total?: number }): IpGate {
  let byProtocol = gates.get(owner);
  if (!byProtocol) gates.set(owner, (byProtocol = new Map()));
  let g = byProtocol.get(protocol);
  if (!g || g.limits.perIp !== limits.perIp || g.limits.total !== limits.total) byProtocol.set(protocol, (g = new IpGate(limits)));
  return g;
}

export interface ServeOptions {
  /** The metrics label and log name: imap, imaps, pop3, https… */
  protocol: string;
  log: Logger;
  gate: IpGate;
  implicitTls: boolean;
  /** The line a plaintext client reads when refused (never sent on an implicit-TLS port). */
  refusal: (why: Refusal) => string;
  /** Refuse new connections near the memory limit (default true); HTTPS keeps answering /health and the admin API. */
  memoryGate?: boolean;
  /** A socket that passed the gate; its slot is released when it closes. */
  accept(socket: net.Socket, ip: string): void;
}

/** A refused client that does not read its refusal still loses the socket within this. */
const REFUSAL_LINGER_MS = 2000;

export function serve(o: ServeOptions): net.Server {
  const server = net.createServer((socket) => {
    guard(socket, o.protocol);
    metrics.connections.inc({ protocol: o.protocol });
    const ip = normalizeIp(socket.remoteAddress);
    // Near the memory limit a new connection is refused like one over a limit: a temporary state the client retries.
    const why = o.memoryGate !== false && memoryBudget().underPressure() ? 'memory' : o.gate.admit(ip);
    if (why) {
      netMetrics.refused.inc({ protocol: o.protocol, reason: why });
      o.log.debug({ remote: ip, why }, `${o.protocol} connection refused: too many connections`);
      if (o.implicitTls) socket.destroy();
      else {
        socket.end(o.refusal(why));
        setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
      }
      return;
    }
    socket.once('close', () => o.gate.release(ip));
    o.accept(socket, ip);
  });
  server.on('error', (err) => o.log.error({ err }, `${o.protocol} listener error`));
  return server;
}

/** Binds and resolves the port bound (the OS's choice for 0); rejects with the bind error. */
export function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const failed = (err: Error) => reject(err);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
