/**
 * @module test/http/harness
 * The node's HTTPS app over a real encrypted store, with the test
 * certificate and a fixed admin secret, and a client that signs its calls
 * the way the edge does (app.request, no socket).
 */
import { testConfig, type Config } from '../../node/config/index.js';
import { httpsApp, type HttpAppDeps } from '../../node/http/app.js';
import { signRequest } from '../../node/http/signature.js';
import { CertificateStore } from '../../node/tls/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, testTls, type TestStore } from '../helpers/store.js';

export const SECRET = 'an admin secret of at least thirty-two characters';
export const MAIL_HOST = 'mail.example.org';
export const ADDRESSES = { ipv4: '192.0.2.10', ipv6: '2001:db8::10' };

export interface TestApp {
  t: TestStore;
  config: Config;
  tls: CertificateStore;
  app: ReturnType<typeof httpsApp>;
  /** A signed call; `body` is JSON-encoded. */
  call(method: string, path: string, body?: unknown, opts?: { secret?: string; now?: number }): Promise<Response>;
  /** The headers a signed call would carry, to replay or tamper with. */
  signed(method: string, path: string, body?: string, opts?: { secret?: string; now?: number }): Promise<Record<string, string>>;
  cleanup(): void;
}

export function makeTestApp(extra: Partial<HttpAppDeps> = {}, opts: { keyMode?: 'zero-access' | 'managed' } = {}): TestApp {
  const t = makeTestStore({ keyMode: opts.keyMode });
  const config = testConfig(t.dataDir, { hostname: MAIL_HOST });
  const { key, cert } = testTls();
  const tls = new CertificateStore(cert.toString(), key.toString());
  const app = httpsApp({
    store: t.store,
    tls,
    config,
    log: silentLogger,
    authLimiter: new AuthLimiter({ stepDelayMs: 1, maxDelayMs: 5 }),
    adminSecret: SECRET,
    publicAddresses: ADDRESSES,
    // The test machine's own interfaces must not leak into the records.
    interfaceAddresses: () => ({}),
    ...extra,
  });
  const signed = (method: string, path: string, body = '', o: { secret?: string; now?: number } = {}) =>
    signRequest(o.secret ?? SECRET, { method, path, body, now: o.now });
  return {
    t,
    config,
    tls,
    app,
    signed,
    async call(method, path, body, o = {}) {
      const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      const headers = { ...(await signed(method, path, text, o)), 'content-type': 'application/json' };
      return app.request(path, { method, headers, body: text === '' ? undefined : text });
    },
    cleanup() {
      tls.close();
      t.cleanup();
    },
  };
}
