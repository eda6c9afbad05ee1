/**
 * @module node/http/server
 * The node's two web listeners: HTTPS on ports.https (httpsApp) and plain
 * HTTP on ports.http (ACME http-01 and a redirect). Each TLS handshake takes
 * the certificate store's current context, so a renewed certificate applies
 * to new connections at once while open ones keep theirs, for SNI and
 * non-SNI clients alike.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server as HttpServer } from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import { guard, IpGate, listenOn, serve } from '../net/index.js';
import { httpsApp, type HttpAppDeps } from './app.js';
import { plainHttpApp, type ChallengeStore } from './challenge.js';

export interface HttpDeps extends HttpAppDeps {
  tls: HttpAppDeps['tls'] & { readonly context: tls.SecureContext };
  /** Pending ACME http-01 challenges (node/tls Http01Responder). */
  challenges?: ChallengeStore;
}

export interface HttpListen {
  /** Default config.listenAddress. */
  host?: string;
  /** Default config.ports.https. */
  https?: number;
  /** Default config.ports.http; false serves no plain HTTP. */
  http?: number | false;
  /** The HTTPS port the redirect names, when a proxy or NAT maps it (default: the port bound, 443 → omitted). */
  publicHttpsPort?: number;
}

export interface HttpHandle {
  httpsPort: number;
  /** null when plain HTTP is off. */
  httpPort: number | null;
  close(): Promise<void>;
}

/** Connections idle longer than this are closed (keep-alive clients reconnect). */
const IDLE_MS = 60_000;

export async function startHttp(deps: HttpDeps, listen: HttpListen = {}): Promise<HttpHandle> {
  const host = listen.host ?? deps.config.listenAddress;
  const log = deps.log.child({ proto: 'https' });
  const app = httpsApp(deps);
  const http = createAdaptorServer({ fetch: app.fetch }) as HttpServer;
  http.keepAliveTimeout = 30_000;
  const sockets = new Set<net.Socket>();
  // The same per-IP cap as the mail protocols: one address cannot hold every slot of the HTTPS port.
  const tlsServer = serve({
    protocol: 'https',
    log,
    gate: new IpGate({ perIp: deps.config.limits.maxConnectionsPerIp }),
    implicitTls: true,
    // /health must still answer when memory is short (it says so), or the edge would take a busy node for a dead one.
    memoryGate: false,
    refusal: () => '',
    accept(raw) {
      sockets.add(raw);
      raw.once('close', () => sockets.delete(raw));
      raw.setTimeout(IDLE_MS, () => raw.destroy());
      const sock = guard(
        new tls.TLSSocket(raw, {
          isServer: true,
          secureContext: deps.tls.context,
          SNICallback: (_name, cb) => cb(null, deps.tls.context),
          ALPNProtocols: ['http/1.1'],
        }),
        'https',
      );
      // Handshake failures and resets are the client's business: guard closes quietly.
      sock.once('secure', () => http.emit('connection', sock));
    },
  });
  const httpsPort = await listenOn(tlsServer, listen.https ?? deps.config.ports.https, host);

  let plain: HttpServer | null = null;
  let httpPort: number | null = null;
  const plainSockets = new Set<net.Socket>();
  const wantHttp = listen.http ?? deps.config.ports.http;
  if (wantHttp !== false) {
    const papp = plainHttpApp({ challenges: deps.challenges, hostname: deps.config.hostname, httpsPort: listen.publicHttpsPort ?? httpsPort });
    plain = createAdaptorServer({ fetch: papp.fetch }) as HttpServer;
    plain.keepAliveTimeout = 5_000;
    plain.on('connection', (s: net.Socket) => {
      guard(s, 'http');
      plainSockets.add(s);
      s.once('close', () => plainSockets.delete(s));
      s.setTimeout(IDLE_MS, () => s.destroy());
    });
    try {
      httpPort = await listenOn(plain, wantHttp, host);
    } catch (err) {
      tlsServer.close();
      throw err;
    }
  }
  log.info({ host, https: httpsPort, http: httpPort }, 'https: listening');

  return {
    httpsPort,
    httpPort,
    close: async () => {
      const closing = [new Promise<void>((r) => tlsServer.close(() => r()))];
      if (plain) closing.push(new Promise<void>((r) => plain!.close(() => r())));
      http.closeAllConnections?.();
      plain?.closeAllConnections?.();
      for (const s of sockets) s.destroy();
      for (const s of plainSockets) s.destroy();
      await Promise.all(closing);
    },
  };
}
