/**
 * @module test/edge/harness
 * What the edge tests share: a real node (node/http's app over a real
 * encrypted store, served on a port), a real DNS-over-HTTPS server answering
 * from a zone the test writes, a webhook receiver, and a cookie-keeping
 * client for `app.request()` that logs in the way a browser does.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { hashPassword } from '../../edge/auth/password.js';
import { makeTestApp, type TestApp } from '../http/harness.js';
import type { HttpAppDeps } from '../../node/http/index.js';
import { testTls } from '../helpers/store.js';

export { SECRET, MAIL_HOST, ADDRESSES } from '../http/harness.js';

export const PASSWORD = 'a long admin passphrase';
let cachedHash: Promise<string> | null = null;
/** One PBKDF2 hash per test file: 100,000 iterations cost ~50 ms each. */
export function passwordHash(): Promise<string> {
  cachedHash ??= hashPassword(PASSWORD);
  return cachedHash;
}

function listening(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    if (server.listening) return resolve((server.address() as AddressInfo).port);
    server.once('listening', () => resolve((server.address() as AddressInfo).port));
    server.once('error', reject);
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface RunningNode extends TestApp {
  url: string;
  close(): Promise<void>;
}

/** The node's HTTPS app (admin API, /health) over a real store, served on 127.0.0.1 (HTTPS with the test certificate if asked). */
export async function startNode(opts: { https?: boolean; extra?: Partial<HttpAppDeps> } = {}): Promise<RunningNode> {
  const node = makeTestApp(opts.extra);
  const { key, cert } = testTls();
  const server = serve({
    fetch: node.app.fetch,
    port: 0,
    hostname: '127.0.0.1',
    ...(opts.https ? { createServer: createHttpsServer, serverOptions: { key, cert } } : {}),
  }) as Server;
  const port = await listening(server);
  return {
    ...node,
    url: `${opts.https ? 'https' : 'http'}://127.0.0.1:${port}`,
    async close() {
      await closeServer(server);
      node.cleanup();
    },
  };
}

/** A port nothing listens on (bound, then closed). */
export async function deadPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  const port = await listening(s);
  await closeServer(s);
  return port;
}

const TYPE_CODES: Record<string, number> = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28, SRV: 33, CAA: 257 };

/** An API record as 1.1.1.1's JSON API would present it: trailing dots, quoted TXT chunks, CAA in generic form. */
export function dohData(r: { type: string; value: string; priority?: number }): string {
  const dot = (h: string) => (h === '.' ? '.' : `${h}.`);
  switch (r.type) {
    case 'MX':
      return `${r.priority} ${dot(r.value)}`;
    case 'SRV': {
      const [w, p, t] = r.value.split(' ');
      return `${r.priority} ${w} ${p} ${dot(t)}`;
    }
    case 'CNAME':
      return dot(r.value);
    case 'TXT':
      return (r.value.match(/.{1,255}/g) ?? ['']).map((s) => `"${s}"`).join(' ');
    case 'CAA': {
      const m = /^(\d+) (\w+) "(.*)"$/.exec(r.value)!;
      const bytes = [Number(m[1]), m[2].length, ...Buffer.from(m[2] + m[3])];
      return `\\# ${bytes.length} ${Buffer.from(bytes).toString('hex')}`;
    }
    default:
      return r.value;
  }
}

export interface DohServer {
  endpoint: string;
  /** "name TYPE" → answers' data. */
  zone: Map<string, string[]>;
  queries: string[];
  publish(records: { type: string; name: string; value: string; priority?: number }[]): void;
  close(): Promise<void>;
}

/** A DNS-over-HTTPS JSON server (the cloudflare-dns.com/dns-query shape) answering from `zone`. */
export async function startDoh(): Promise<DohServer> {
  const zone = new Map<string, string[]>();
  const queries: string[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const name = (u.searchParams.get('name') ?? '').toLowerCase().replace(/\.$/, '');
    const type = (u.searchParams.get('type') ?? 'A').toUpperCase();
    queries.push(`${name} ${type}`);
    const data = zone.get(`${name} ${type}`);
    const anyName = [...zone.keys()].some((k) => k.startsWith(`${name} `));
    res.setHeader('content-type', 'application/dns-json');
    res.end(JSON.stringify({ Status: data || anyName ? 0 : 3, Answer: (data ?? []).map((d) => ({ name: `${name}.`, type: TYPE_CODES[type], TTL: 300, data: d })) }));
  });
  server.listen(0, '127.0.0.1');
  const port = await listening(server);
  return {
    endpoint: `http://127.0.0.1:${port}/dns-query`,
    zone,
    queries,
    publish(records) {
      for (const r of records) {
        const key = `${r.name.toLowerCase()} ${r.type}`;
        zone.set(key, [...(zone.get(key) ?? []), dohData(r)]);
      }
    },
    close: () => closeServer(server),
  };
}

export interface Hook {
  url: string;
  received: { body: unknown; headers: IncomingMessage['headers'] }[];
  /** Resolves when `n` calls have arrived. */
  waitFor(n: number): Promise<void>;
  status: number;
  close(): Promise<void>;
}

/** A webhook receiver that records each POST. */
export async function startHook(): Promise<Hook> {
  const hook: Hook = { url: '', received: [], waitFor: async () => {}, status: 200, close: async () => {} };
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hook.received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'), headers: req.headers });
      res.statusCode = hook.status;
      res.end();
      for (const w of waiters.splice(0)) if (hook.received.length >= w.n) w.resolve();
      else waiters.push(w);
    });
  });
  server.listen(0, '127.0.0.1');
  hook.url = `http://127.0.0.1:${await listening(server)}/hook`;
  hook.waitFor = (n) => (hook.received.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })));
  hook.close = () => closeServer(server);
  return hook;
}

/** A cookie-keeping client for app.request(), like a browser on one site. */
export interface Requester {
  request(input: string, init?: RequestInit): Response | Promise<Response>;
}

export class Client {
  readonly cookies = new Map<string, string>();
  ip = '198.51.100.7';

  /** `app`: a Hono app, or anything with the same request() (the miniflare test passes workerd). */
  constructor(readonly app: Requester, readonly origin = 'https://admin.example.org') {}

  async fetch(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    if (!headers.has('cf-connecting-ip')) headers.set('cf-connecting-ip', this.ip);
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set('content-type', 'application/x-www-form-urlencoded');
    }
    const res = await this.app.request(new URL(path, this.origin).toString(), { ...init, method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** The CSRF token of the first form on a page. */
  static csrf(html: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error('no CSRF token on the page');
    return m[1];
  }

  /** GET a page and POST one of its forms with its token. */
  async submit(page: string, action: string, fields: Record<string, string>): Promise<Response> {
    const html = await (await this.fetch(page)).text();
    return this.fetch(action, { form: { _csrf: Client.csrf(html), ...fields } });
  }

  async login(password = PASSWORD): Promise<Response> {
    const html = await (await this.fetch('/login')).text();
    return this.fetch('/login', { form: { _csrf: Client.csrf(html), password, next: '/' } });
  }
}
