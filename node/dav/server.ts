/**
 * @module node/dav/server
 * davApp over HTTPS on its own listener, for tests and for a node that
 * serves DAV on a dedicated port. Each TLS handshake takes the current
 * context from deps.tls, so a renewed certificate applies without restart,
 * for SNI and non-SNI clients alike. `implicitTls: false` serves plain HTTP,
 * for measuring beside a server that speaks plain HTTP (bench/dav.ts on
 * loopback); the node itself serves DAV only over HTTPS (node/http).
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server as HttpServer } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { DavDeps } from './context.js';
import { davApp } from './app.js';
import { guard } from '../net/index.js';

export interface DavServerDeps extends DavDeps {
  tls: { secureContext(): tls.SecureContext };
  hostname: string;
}

export async function startDavServer(
  deps: DavServerDeps,
  listen: { host: string; port: number; implicitTls?: boolean },
): Promise<{ port: number; close(): Promise<void> }> {
  const app = davApp(deps);
  const http = createAdaptorServer({ fetch: app.fetch }) as HttpServer;
  http.keepAliveTimeout = 30_000;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    // The shared error policy from accept on (node/net): a reset before the TLS socket exists must not reach the process.
    guard(raw, 'dav');
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
    raw.setTimeout(60_000, () => raw.destroy());
    if (listen.implicitTls === false) {
      http.emit('connection', raw);
      return;
    }
    const sock = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: deps.tls.secureContext(),
      SNICallback: (_name, cb) => cb(null, deps.tls.secureContext()),
      ALPNProtocols: ['http/1.1'],
    });
    // Handshake failures and resets are the client's business: close quietly.
    sock.on('error', () => sock.destroy());
    sock.once('secure', () => http.emit('connection', sock));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        http.closeAllConnections?.();
        for (const s of sockets) s.destroy();
      }),
  };
}
