/**
 * @module node/transfer/https-fetch
 * A fetch over node:https for the DAV source, so `--insecure` (a test or
 * old server with its own certificate) is a property of this one agent and
 * never of the process (no NODE_TLS_REJECT_UNAUTHORIZED in a running node).
 * Enough of fetch for tsdav: method, headers, a string body, the response
 * text.
 */
import http from 'node:http';
import https from 'node:https';

export function httpsFetch(o: { insecure?: boolean; timeoutMs?: number } = {}): typeof globalThis.fetch {
  const agent = new https.Agent({ rejectUnauthorized: !o.insecure, keepAlive: true, maxSockets: 4 });
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const body = init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : Buffer.from(await new Response(init.body).arrayBuffer());
    const mod = url.protocol === 'http:' ? http : https;
    return await new Promise<Response>((resolve, reject) => {
      const req = mod.request(url, { method: init.method ?? 'GET', headers, agent: url.protocol === 'http:' ? undefined : agent, timeout: o.timeoutMs ?? 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 0;
          const nullBody = status === 204 || status === 304 || status < 200;
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: h }));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${url.host} did not answer within ${o.timeoutMs ?? 60_000} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }) as typeof globalThis.fetch;
}
