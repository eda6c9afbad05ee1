/**
 * @module test/tls/cloudflare-api
 * A real HTTP server implementing the Cloudflare API v4 endpoints the
 * dns-01 solver uses (`GET zones?name=`, `GET|POST zones/:id/dns_records`,
 * `DELETE zones/:id/dns_records/:id`), with Cloudflare's envelope and
 * errors. TXT records it holds are pushed into pebble-challtestsrv's DNS
 * (POST /set-txt, /clear-txt), so Pebble validates against what the API
 * was told. Every request is recorded for assertions.
 */
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';

export interface FakeCloudflare {
  apiBase: string;
  requests: { method: string; path: string; auth: string; body?: unknown }[];
  /** Records currently held, by id. */
  records: Map<string, { id: string; zoneId: string; type: string; name: string; content: string }>;
  close(): Promise<void>;
}

async function challtest(url: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(url + path, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`challtestsrv ${path}: ${res.status}`);
}

export async function startFakeCloudflare(opts: { token: string; zones: Record<string, string>; challtestsrvUrl: string }): Promise<FakeCloudflare> {
  const requests: FakeCloudflare['requests'] = [];
  const records: FakeCloudflare['records'] = new Map();
  let next = 1;
  const send = (res: http.ServerResponse, status: number, payload: object) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  };
  const fail = (res: http.ServerResponse, status: number, code: number, message: string) => send(res, status, { success: false, errors: [{ code, message }], messages: [], result: null });
  const ok = (res: http.ServerResponse, result: unknown) => send(res, 200, { success: true, errors: [], messages: [], result });

  const server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url ?? '/', 'http://x');
    const body = raw ? JSON.parse(raw) : undefined;
    const auth = req.headers.authorization ?? '';
    requests.push({ method: req.method ?? '', path: url.pathname + url.search, auth, body });
    if (auth !== `Bearer ${opts.token}`) return fail(res, 403, 9109, 'Invalid access token');
    const parts = url.pathname.replace(/^\/client\/v4\//, '').split('/');
    if (parts[0] !== 'zones') return fail(res, 404, 7003, 'Could not route');
    if (parts.length === 1 && req.method === 'GET') {
      const name = url.searchParams.get('name');
      return ok(res, Object.entries(opts.zones).filter(([n]) => n === name).map(([n, id]) => ({ id, name: n })));
    }
    const zoneId = parts[1];
    if (!Object.values(opts.zones).includes(zoneId) || parts[2] !== 'dns_records') return fail(res, 404, 7003, 'Could not route');
    if (parts.length === 3 && req.method === 'POST') {
      if (body?.type !== 'TXT' || typeof body.name !== 'string' || typeof body.content !== 'string') return fail(res, 400, 9000, 'DNS name is invalid');
      const rec = { id: `rec${next++}`, zoneId, type: body.type, name: body.name, content: body.content };
      records.set(rec.id, rec);
      await challtest(opts.challtestsrvUrl, '/set-txt', { host: `${rec.name}.`, value: rec.content });
      return ok(res, rec);
    }
    if (parts.length === 3 && req.method === 'GET') {
      const t = url.searchParams.get('type');
      const n = url.searchParams.get('name');
      return ok(res, [...records.values()].filter((r) => r.zoneId === zoneId && (!t || r.type === t) && (!n || r.name === n)));
    }
    if (parts.length === 4 && req.method === 'DELETE') {
      const rec = records.get(parts[3]);
      if (!rec || rec.zoneId !== zoneId) return fail(res, 404, 81044, 'Record does not exist.');
      records.delete(rec.id);
      // challtestsrv keeps one value per name; clear it only when no other record for the name is left.
      if (![...records.values()].some((r) => r.name === rec.name)) await challtest(opts.challtestsrvUrl, '/clear-txt', { host: `${rec.name}.` });
      return ok(res, { id: rec.id });
    }
    return fail(res, 405, 10000, 'Method not allowed');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    apiBase: `http://127.0.0.1:${port}/client/v4`,
    requests,
    records,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
