/**
 * @module node/http/app
 * The node's HTTPS app: `/health` and `/metrics` (unsigned), mail client
 * set-up (MTA-STS, autoconfig, autodiscover: node/http/client-setup), the
 * signed admin API under `/api/v1`, the owner's page under `/account`
 * (node/http/account), and everything else handed to the DAV
 * app exactly as it would answer on its own (well-known redirects, `/dav/…`).
 */
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import type { ClientPorts } from '../../edge/context.js';
import type { Config } from '../config/index.js';
import { davApp, type ImipSender } from '../dav/index.js';
import type { Resolver } from '../smtp/dns.js';
import { systemResolver } from '../smtp/dns.js';
import { queueFor } from '../smtp/context.js';
import type { Store } from '../store/index.js';
import type { Queue } from '../store/queue.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import type { Logger } from '../util/log.js';
import { cpuClock } from '../net/index.js';
import { metrics, PROMETHEUS_CONTENT_TYPE, registry } from '../util/metrics.js';
import { localOperations, type Operations } from '../admin/operations.js';
import { adminApp, type AdminDeps } from './admin.js';
import { accountApp } from './account.js';
import { registerOwnerExport } from './owner-export.js';
import { registerClientSetup } from './client-setup.js';
import { ApiError } from './errors.js';
import type { PublicAddresses } from './dns-records.js';
import { checkHealth, type CertificateSource, type Health, type HealthSource, type HealthThresholds } from './health.js';
import { adminSecret } from './secret.js';
import type { NonceCache } from './signature.js';

export interface HttpAppDeps {
  store: Store;
  /** The admin operations (node/admin); default: run here, without waiting for a replica. */
  operations?: Operations;
  /** The CertificateStore (node/tls): its expiry for /health, its context for handshakes. */
  tls: CertificateSource;
  config: Config;
  log: Logger;
  /** The failed-login policy shared with SMTP, IMAP and POP3 (DAV logins count too). */
  authLimiter: AuthLimiter;
  /** What /health reports beyond the store, certificate and disk. */
  health?: HealthSource;
  healthThresholds?: Partial<HealthThresholds>;
  /** How long one /health result is reused, ms (default 2000). */
  healthCacheMs?: number;
  /** Defaults to config admin.secret, or the generated <dataDir>/admin-secret on a local run. */
  adminSecret?: string;
  /** The outbound queue; defaults to the one SMTP shares for this store. */
  queue?: Queue;
  resolver?: Resolver;
  publicAddresses?: PublicAddresses | (() => Promise<PublicAddresses>);
  /** Default: node/doctor's publicAddresses() (the machine's interfaces). */
  interfaceAddresses?: () => Partial<PublicAddresses> | Promise<Partial<PublicAddresses>>;
  /** GET /api/v1/doctor; default: node/doctor's runDoctor for this node. */
  doctor?: () => Promise<unknown>;
  imip?: ImipSender;
  /** Ports named in autoconfig and autodiscover; default the ones node/dns publishes (node/http/client-setup). */
  clientPorts?: Partial<ClientPorts>;
  version?: string;
  /** Tests: a fixed clock (unix seconds) and nonce cache for signature checks. */
  adminClock?: () => number;
  nonces?: NonceCache;
}

let cachedVersion: string | undefined;
/** The package version, from package.json next to the source or the build. */
export function packageVersion(): string {
  if (cachedVersion) return cachedVersion;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'haven' && pkg.version) return (cachedVersion = pkg.version);
    } catch {
      // try the next layout
    }
  }
  return (cachedVersion = 'unknown');
}

function area(path: string): string {
  if (path.startsWith('/api/')) return 'api';
  if (path === '/health') return 'health';
  if (path === '/metrics') return 'metrics';
  if (path === '/dav' || path.startsWith('/dav/') || path === '/.well-known/caldav' || path === '/.well-known/carddav') return 'dav';
  return 'other';
}

/** Points the scrape-time gauges at this node's sources (the latest app wins). */
function collectGauges(deps: HttpAppDeps, queue: Queue): void {
  metrics.queueDepth.collect((g) => g.set(undefined, queue.depth().queued));
  metrics.queueOldest.collect((g) => {
    const d = queue.depth();
    g.set(undefined, d.oldestAt === null ? 0 : Math.max(0, (Date.now() - d.oldestAt) / 1000));
  });
  metrics.replicationLag.collect((g) => g.set(undefined, (deps.health?.replication?.()?.lagMs ?? 0) / 1000));
  metrics.replicationHealthy.collect((g) => {
    const st = deps.health?.replication?.();
    g.set(undefined, !st || st.healthy ? 1 : 0);
  });
  metrics.certificateDays.collect((g) => g.set(undefined, deps.tls.daysUntilExpiry()));
  metrics.lockouts.collect((g) => g.set(undefined, deps.authLimiter.lockedCount()));
}

/** `haven doctor` for this node, as data (node/doctor), loaded on first use. */
async function nodeDoctor(deps: HttpAppDeps, queue: Queue): Promise<unknown> {
  const doctor = await import('../doctor/index.js');
  const fixed = typeof deps.publicAddresses === 'object' ? deps.publicAddresses : await deps.publicAddresses?.();
  const replication = deps.health?.replication;
  try {
    return await doctor.runDoctor(
      doctor.doctorDepsFor({
        config: deps.config,
        directory: deps.store.directory,
        resolver: deps.resolver,
        ipv4: fixed?.ipv4,
        ipv6: fixed?.ipv6,
        replication: replication ? () => replication() : undefined,
        queue: () => queue.depth(),
      }),
    );
  } catch (err) {
    if (err instanceof doctor.DoctorInputError) throw new ApiError(409, err.message);
    throw err;
  }
}

export function httpsApp(deps: HttpAppDeps): Hono {
  const app = new Hono();
  // queueFor gives the one Queue SMTP shares for this store, so admin retries wake the runner.
  const queue = deps.queue ?? queueFor(deps.store);
  const version = deps.version ?? packageVersion();
  collectGauges(deps, queue);

  app.use('*', async (c, next) => {
    const cpu = cpuClock('https');
    await next();
    cpu();
    metrics.httpRequests.inc({ area: area(c.req.path), status: `${Math.floor(c.res.status / 100)}xx` });
  });

  // /health is public: a burst of requests shares one round of listener probes instead of opening a connection to every listener per request.
  let lastHealth: { at: number; value: Promise<Health> } | null = null;
  const health = (): Promise<Health> => {
    const now = Date.now();
    if (lastHealth && now - lastHealth.at < (deps.healthCacheMs ?? 2000)) return lastHealth.value;
    const value = checkHealth({ store: deps.store, tls: deps.tls, dataDir: deps.config.dataDir, version, source: { queue, ...deps.health }, thresholds: deps.healthThresholds });
    lastHealth = { at: now, value };
    return value;
  };

  app.get('/health', async (c) => {
    const h = await health();
    return c.json(h, h.ok ? 200 : 503, { 'Cache-Control': 'no-store' });
  });

  // node/dns points mta-sts.*, autoconfig.* and autodiscover.* at the mail host, so the node answers them.
  registerClientSetup(app, { store: deps.store, config: deps.config, ports: deps.clientPorts });

  app.get('/metrics', (c) => c.body(registry.render(), 200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' }));

  const admin: AdminDeps = {
    store: deps.store,
    operations: deps.operations ?? localOperations({ store: deps.store, log: deps.log, queueDepth: () => queue.depth() }, 'api'),
    queue,
    secret: deps.adminSecret ?? adminSecret(deps.config).secret,
    log: deps.log,
    mailHost: deps.config.hostname,
    pop3: deps.config.pop3.enabled,
    spfExtra: deps.config.spfExtra,
    dmarcPolicy: deps.config.dmarcPolicy,
    publicAddresses: deps.publicAddresses,
    interfaceAddresses: deps.interfaceAddresses ?? (async () => (await import('../doctor/index.js')).publicAddresses()),
    resolver: deps.resolver ?? systemResolver,
    replication: deps.health?.replication,
    doctor: deps.doctor ?? (() => nodeDoctor(deps, queue)),
    nonces: deps.nonces,
    now: deps.adminClock,
  };
  app.route('/api/v1', adminApp(admin));
  app.all('/api', (c) => c.json({ error: 'the admin API lives under /api/v1; see docs/admin-api.md' }, 404));
  app.all('/api/*', (c) => c.json({ error: 'the admin API lives under /api/v1; see docs/admin-api.md' }, 404));

  // The owner's page (vacation, Sieve, app passwords), signed in with the mailbox's own password.
  app.route('/', accountApp({ store: deps.store, authLimiter: deps.authLimiter, log: deps.log }));
  // The owner's own download of everything (issue 18), signed in with their password.
  registerOwnerExport(app, { store: deps.store, log: deps.log, authLimiter: deps.authLimiter });
  app.route('/', davApp({ store: deps.store, log: deps.log, authLimiter: deps.authLimiter, imip: deps.imip }));
  return app;
}
