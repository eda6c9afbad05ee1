/**
 * @module node/http/challenge
 * The node's plain-HTTP app on ports.http (80 in production): ACME http-01
 * challenge responses (RFC 8555 §8.3) from a token map node/tls fills, and a
 * permanent redirect to HTTPS for everything else. Nothing else is served
 * without TLS.
 */
import { Hono } from 'hono';
import type { ChallengeStore } from '../tls/index.js';

/** Pending http-01 challenges (token → key authorization); node/tls owns the type and its Http01Responder fills it. */
export type { ChallengeStore } from '../tls/index.js';

/** RFC 8555 §8.1: tokens are base64url. Anything else is no token we issued. */
const TOKEN_RE = /^[A-Za-z0-9_-]{1,256}$/;

export interface PlainHttpOptions {
  challenges?: ChallengeStore;
  /** The name to redirect to (config.hostname); the request's Host is not trusted for this. */
  hostname: string;
  /** The public HTTPS port (443 omits it from the URL). */
  httpsPort: number;
}

export function plainHttpApp(opts: PlainHttpOptions): Hono {
  const app = new Hono();
  app.get('/.well-known/acme-challenge/:token', (c) => {
    const token = c.req.param('token');
    const body = TOKEN_RE.test(token) ? opts.challenges?.get(token) : undefined;
    if (body === undefined) return c.text('no pending ACME challenge with this token\n', 404);
    return c.body(body, 200, { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store' });
  });
  app.all('*', (c) => {
    const url = new URL(c.req.url);
    const port = opts.httpsPort === 443 ? '' : `:${opts.httpsPort}`;
    return c.body(null, 301, { Location: `https://${opts.hostname}${port}${url.pathname}${url.search}`, 'Cache-Control': 'no-cache' });
  });
  return app;
}
