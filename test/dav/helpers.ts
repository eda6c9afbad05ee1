/**
 * @module test/dav/helpers
 * A real store with accounts, the DAV server over real TLS on port 0, a
 * fetch over node:https that trusts the test certificate (handed to tsdav
 * and used for raw transcripts), and helpers to make clients.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import { createDAVClient } from 'tsdav';
import { startDavServer } from '../../node/dav/index.js';
import type { DavLimits, ImipSender } from '../../node/dav/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';

export const ALICE = { address: 'alice@example.test', password: 'correct horse battery' };
export const BOB = { address: 'bob@example.test', password: 'staple battery horse' };

/** Alice's default calendar and address book. */
export const ALICE_CAL = '/dav/calendars/alice@example.test/default/';
export const ALICE_BOOK = '/dav/addressbooks/alice@example.test/default/';
export const ICS = { 'Content-Type': 'text/calendar; charset=utf-8' };
export const VCF = { 'Content-Type': 'text/vcard; charset=utf-8' };

/** An example taken from an RFC's own text (test/fixtures/dav/rfc). */
export const rfcFixture = (name: string): string => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'dav', 'rfc', name), 'utf8');

/** PUT of a body, as iCalendar unless other headers are given. */
export const putAs = (h: DavHarness, path: string, body: string, headers: Record<string, string> = ICS) => dav(h, 'PUT', path, { body, headers });

export interface DavHarness {
  t: TestStore;
  base: string;
  port: number;
  fetch: typeof globalThis.fetch;
  limiter: AuthLimiter;
  close(): Promise<void>;
}

const { key, cert } = testTls();
const agent = new https.Agent({ ca: cert, keepAlive: true, maxSockets: 64 });

/** fetch over node:https with the test CA; enough of fetch for tsdav and our transcripts. */
export const tlsFetch: typeof globalThis.fetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  const body = init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : Buffer.from(await new Response(init.body).arrayBuffer());
  return await new Promise<Response>((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        const status = res.statusCode ?? 0;
        const nullBody = status === 204 || status === 304 || (init.method ?? 'GET') === 'HEAD';
        const r = new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: h });
        Object.defineProperty(r, 'url', { value: url.href });
        resolve(r);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}) as typeof globalThis.fetch;

export async function startHarness(
  opts: { limits?: Partial<DavLimits>; accounts?: { address: string; password: string }[]; maxFailures?: number; imip?: (t: TestStore) => ImipSender; davResponseCacheBytes?: number } = {},
): Promise<DavHarness> {
  const t = makeTestStore({ davResponseCacheBytes: opts.davResponseCacheBytes });
  for (const a of opts.accounts ?? [ALICE, BOB]) await addAccount(t.store, a.address, a.password);
  const ctx = tls.createSecureContext({ key, cert });
  const limiter = new AuthLimiter({ stepDelayMs: 0, maxFailures: opts.maxFailures ?? 10 });
  const srv = await startDavServer(
    { store: t.store, log: silentLogger, authLimiter: limiter, tls: { secureContext: () => ctx }, hostname: 'localhost', limits: opts.limits, imip: opts.imip?.(t) },
    { host: '127.0.0.1', port: 0, implicitTls: true },
  );
  const base = `https://localhost:${srv.port}`;
  return {
    t,
    base,
    port: srv.port,
    fetch: tlsFetch,
    limiter,
    async close() {
      await srv.close();
      t.cleanup();
    },
  };
}

export function basic(u: { address: string; password: string }): string {
  return 'Basic ' + Buffer.from(`${u.address}:${u.password}`).toString('base64');
}

/** A raw request with credentials; returns status, headers and text. */
export async function dav(h: DavHarness, method: string, path: string, opts: { user?: { address: string; password: string } | null; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  const user = opts.user === undefined ? ALICE : opts.user;
  if (user) headers['Authorization'] = basic(user);
  if (opts.body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/xml; charset=utf-8';
  const r = await h.fetch(h.base + path, { method, headers, body: opts.body });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

export async function client(h: DavHarness, user = ALICE, accountType: 'caldav' | 'carddav' = 'caldav') {
  return createDAVClient({
    serverUrl: h.base,
    credentials: { username: user.address, password: user.password },
    authMethod: 'Basic',
    defaultAccountType: accountType,
    fetch: h.fetch,
  });
}

/** A minimal VEVENT. */
export function event(uid: string, start: string, end: string, extra: string[] = []): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven test//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', `DTSTART:${start}`, `DTEND:${end}`, ...extra, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
}

export function vcard(uid: string, fn: string, extra: string[] = [], version = '4.0'): string {
  return ['BEGIN:VCARD', `VERSION:${version}`, `UID:${uid}`, `FN:${fn}`, ...extra, 'END:VCARD', ''].join('\r\n');
}
