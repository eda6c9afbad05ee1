/**
 * @module edge/node
 * The edge app served from Node next to a local node, so the admin UI works
 * on a fresh machine with no Cloudflare account: in-memory KV, the probe on a
 * timer instead of a cron trigger, the node's self-signed certificate trusted
 * for the admin API calls, and the client IP taken from the socket.
 *
 * The local admin password: if no hash is given, `localAdminPassword(dataDir)`
 * makes a random one on first start, keeps only its hash (mode 0600) and
 * returns the password once so the caller can print it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createEdgeApp, type EdgeApp } from './app.js';
import type { ClientPorts, EdgeDeps } from './context.js';
import { MemoryKv } from './kv.js';
import { hashPassword } from './auth/password.js';

export interface LocalEdgeOptions {
  /** The local node's HTTPS (or HTTP) base URL, e.g. https://127.0.0.1:8443. */
  nodeUrl: string;
  /** The node's admin.secret. */
  secret: string;
  adminPasswordHash: string;
  /** PEM of the node's certificate (or its CA) to trust for admin API calls. */
  ca?: string | Buffer;
  mailHost?: string;
  mailDomains?: string[];
  ports?: Partial<ClientPorts>;
  pop3?: boolean;
  /** Probe interval; default one minute, 0 turns the probe off. */
  probeIntervalMs?: number;
  alertWebhook?: string;
  version?: string;
  /** Anything else (tests pass a DNS checker). */
  extra?: Partial<EdgeDeps>;
}

export interface LocalEdge extends EdgeApp {
  /** Starts the HTTP listener; port 0 picks a free one. */
  listen(port: number, hostname?: string): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

/** A fetch for the node's admin API that trusts the given CA (Node's fetch cannot take one without undici). */
export function fetchTrusting(ca: string | Buffer | undefined): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    if (body) headers['content-length'] = String(body.length);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const r = send(url, { method: req.method, headers, ca, signal: init?.signal ?? undefined }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) for (const x of Array.isArray(v) ? v : [v]) h.append(k, x);
          const status = res.statusCode ?? 502;
          resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: h }));
        });
      });
      r.on('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
      r.end(body);
    });
  }) as typeof fetch;
}

export function createLocalEdge(opts: LocalEdgeOptions): LocalEdge {
  const edgeApp = createEdgeApp({
    nodeUrl: opts.nodeUrl,
    edgeSecret: opts.secret,
    adminPasswordHash: opts.adminPasswordHash,
    kv: new MemoryKv(),
    nodeFetch: fetchTrusting(opts.ca),
    mailHost: opts.mailHost,
    mailDomains: opts.mailDomains,
    ports: opts.ports,
    pop3: opts.pop3,
    alertWebhook: opts.alertWebhook,
    version: opts.version,
    clientIp: (c) => (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress,
    ...opts.extra,
  });
  let server: ServerType | null = null;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();
  return {
    ...edgeApp,
    listen(port, hostname = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server = serve({ fetch: edgeApp.app.fetch, port, hostname }, (info) => {
          const interval = opts.probeIntervalMs ?? 60_000;
          if (interval > 0) {
            const tick = () => {
              running = edgeApp.probe().catch((err) => console.error('edge probe failed:', err));
            };
            tick();
            timer = setInterval(tick, interval);
            timer.unref();
          }
          resolve({ port: info.port, url: `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${info.port}` });
        });
        server.once('error', reject);
      });
    },
    async close() {
      if (timer) clearInterval(timer);
      await running;
      const s = server;
      server = null;
      if (s) {
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        // A browser tab's keep-alive connection would otherwise hold shutdown open until it times out.
        (s as { closeAllConnections?: () => void }).closeAllConnections?.();
        await closed;
      }
    },
  };
}

/**
 * The local run's admin password hash, from `<dataDir>/admin-password.hash`;
 * on first start a random password is made, its hash written (0600) and the
 * password returned so it can be printed once.
 */
export async function localAdminPassword(dataDir: string): Promise<{ hash: string; newPassword?: string }> {
  const file = join(dataDir, 'admin-password.hash');
  if (existsSync(file)) return { hash: readFileSync(file, 'utf8').trim() };
  const password = randomBytes(12).toString('base64url');
  const hash = await hashPassword(password);
  writeFileSync(file, hash + '\n', { mode: 0o600 });
  return { hash, newPassword: password };
}
