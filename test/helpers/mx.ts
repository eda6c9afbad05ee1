/**
 * @module test/helpers/mx
 * A loopback MX over a given store, with the test certificate, no DNS
 * blocklists and a high per-IP connection limit (one client opens many
 * sessions): what the SMTP child processes of tests and benchmarks run.
 */
import { createSecureContext } from 'node:tls';
import { startSmtp, type ContentFilter, type GreetPauseOptions, type Resolver, type SmtpServerHandle } from '../../node/smtp/index.js';
import type { Store } from '../../node/store/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { testTls } from './store.js';

export function startTestMx(store: Store, opts: { resolver: Resolver; maxConnectionsPerIp: number; content?: ContentFilter; greetPause?: Partial<GreetPauseOptions> }): Promise<SmtpServerHandle> {
  const { key, cert } = testTls();
  const context = createSecureContext({ key, cert });
  return startSmtp(
    {
      store,
      log: silentLogger,
      authLimiter: new AuthLimiter(),
      tls: { secureContext: () => context },
      hostname: 'mx.haven.test',
      resolver: opts.resolver,
      spam: { dnsbl: [], content: opts.content },
      limits: { maxConnectionsPerIp: opts.maxConnectionsPerIp },
      greetPause: opts.greetPause,
    },
    { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' },
  );
}
