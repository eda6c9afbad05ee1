/**
 * @module node/main
 * Wires one mail node together: master key, restore-on-first-boot and
 * replication, the store, certificates, then every listener (SMTP MX and
 * submission, the outbound queue, IMAP, POP3, HTTPS with DAV + admin API +
 * health, plain HTTP for ACME, the local admin UI). `startNode` returns the
 * bound ports and one `close()` that stops everything in reverse order.
 *
 * Order matters: a replica is restored into an empty data directory before
 * the store opens; replication starts right after the store opens (adopting
 * the databases it opened, and seeing every later open), before any
 * listener; and it stops after the store has closed, so the final frames of
 * each close are shipped.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config/index.js';
import type { LoadedMasterKey } from './crypto/index.js';
import { DIRECTORY_FILE, masterKeyFor } from './master-key.js';
import { serveControl } from './admin/control.js';
import { localOperations, type OperationContext, type Operations } from './admin/operations.js';
import { adminSecret, ApiError, packageVersion, startHttp } from './http/index.js';
import { startImap } from './imap/index.js';
import { startPop3 } from './pop3/index.js';
import { startManageSieve } from './managesieve/index.js';
import { Rspamd, rspamdFilter, startLearner } from './rspamd/index.js';
import type { Replication } from './replication/index.js';
import { imipMailSender, type ImipSender } from './dav/index.js';
import { queueFor, signMessage, smtpSettings, startQueueRunner, startSmtp, type OutboundOptions, type QueueRunner, type Resolver } from './smtp/index.js';
import { Store } from './store/index.js';
import { Http01Responder, openCertificateStore, webNamesFor, type OpenedCertificates } from './tls/index.js';
import { configureMemoryBudget, LoopWatchdog } from './net/index.js';
import { AuthLimiter } from './util/auth-limiter.js';
import { lockDataDir } from './util/data-dir-lock.js';
import { silentLogger, type Logger } from './util/log.js';
import { isLoopback } from './util/loopback.js';

export { LOCAL_MASTER_KEY_FILE } from './master-key.js';

export interface StartNodeOptions {
  log?: Logger;
  /**
   * May a missing master key be generated into the data directory (a local
   * run)? Default: only when neither masterKey nor masterKeyFile is configured
   * and the data directory holds no directory database yet.
   */
  allowGeneratedKey?: boolean;
  /** DNS for mail authentication, DNSBL and outbound MX lookups (tests). */
  resolver?: Resolver;
  /** Outbound delivery tuning (tests point it at a local MX). */
  outbound?: Partial<OutboundOptions>;
  /** Start the local admin UI on ports.admin (default true; it is skipped when edge/ offers no local server). */
  adminUi?: boolean;
  /** HTTP client for the Hetzner API when a promoted standby moves its Floating IPs (tests). */
  hetznerFetch?: typeof fetch;
}

export type ListenerName = 'smtp' | 'submission' | 'submissions' | 'imap' | 'imaps' | 'pop3' | 'pop3s' | 'managesieve' | 'http' | 'https' | 'admin';

export interface NodeHandle {
  readonly config: Config;
  readonly store: Store;
  /** Every bound port (the OS's choice where the config said 0); absent when that listener is off. */
  readonly ports: Readonly<Partial<Record<ListenerName, number>>>;
  readonly masterKey: { origin: LoadedMasterKey['origin']; warning?: string };
  readonly certificate: { source: OpenedCertificates['source']; created: boolean; certFile: string };
  /** The data directory held no directory database before this start and nothing was restored. */
  readonly fresh: boolean;
  /** A replica was restored into the empty data directory on this start. */
  readonly restored: boolean;
  readonly replication: Replication | null;
  /** Domains, accounts, aliases, app passwords: what the admin API and the CLI call (node/admin). */
  readonly operations: Operations;
  /** The outbound queue runner: `events` reports each delivery attempt, `kick()` looks for due work now. */
  readonly queueRunner: QueueRunner;
  /** The local admin UI, when it runs: its URL and how to log in. */
  readonly admin: { url: string; login?: string } | null;
  close(): Promise<void>;
}

/** A listener that failed to bind, named by its option so the fix is obvious. */
export class ListenError extends Error {
  constructor(readonly listener: ListenerName, readonly port: number, cause: NodeJS.ErrnoException) {
    const env = `HAVEN_PORTS_${listener.toUpperCase()}`;
    const why =
      cause.code === 'EADDRINUSE'
        ? `port ${port} is already in use (another Haven or mail server?): stop it, or choose another port with ports.${listener} / ${env}`
        : cause.code === 'EACCES'
          ? `port ${port} needs privileges: run as root with CAP_NET_BIND_SERVICE, or choose a port above 1023 with ports.${listener} / ${env}`
          : `cannot listen on port ${port} (${cause.code ?? cause.message}); check listenAddress and ports.${listener} / ${env}`;
    super(`${listener}: ${why}`);
    this.name = 'ListenError';
  }
}

interface Closer {
  name: string;
  close(): Promise<void> | void;
}

function isLocalKey(config: Config): boolean {
  return !config.masterKey && !config.masterKeyFile;
}


/**
 * DKIM keys handed over as systemd credentials named dkim.<selector>.<domain>
 * (infra/cloud-init.ts): the infra keeps each key in its state and publishes
 * its DNS record, so the node hosts the domain and signs with that key.
 */
export function importDkimCredentials(store: Store, dir: string | undefined, log: Logger): number {
  if (!dir || !existsSync(dir)) return 0;
  let n = 0;
  for (const name of readdirSync(dir).sort()) {
    const m = /^dkim\.([A-Za-z0-9-]+)\.(.+)$/.exec(name);
    if (!m) continue;
    const [, selector, domain] = m;
    if (!store.directory.getDomain(domain)) store.directory.addDomain(domain, { dkimSelector: selector });
    store.directory.importDkimKey(domain, selector, readFileSync(join(dir, name), 'utf8'));
    n++;
  }
  if (n > 0) log.info({ keys: n }, 'DKIM keys from the service credentials installed');
  return n;
}

export async function startNode(config: Config, opts: StartNodeOptions = {}): Promise<NodeHandle> {
  // A standby serves nothing until promoted: node/standby runs it (and calls this once promoted).
  if (config.role === 'standby') throw new Error('role: standby is started with startStandby (node/standby), which serves nothing until promoted');
  const log = opts.log ?? silentLogger;
  const closers: Closer[] = [];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c.close();
      } catch (err) {
        log.error({ err, part: c.name }, 'close failed');
      }
    }
  };
  try {
    return await boot(config, opts, log, closers, closeAll);
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function boot(config: Config, opts: StartNodeOptions, log: Logger, closers: Closer[], closeAll: () => Promise<void>): Promise<NodeHandle> {
  // 0. One node per data directory; released last, after replication has shipped the final closes.
  const lock = lockDataDir(config.dataDir);
  closers.push({ name: 'data directory lock', close: () => lock.release() });
  const hadDirectory = existsSync(join(config.dataDir, DIRECTORY_FILE));

  // 1. First boot of a rebuilt server: restore before anything opens a database.
  // Loaded only with a replica configured: the S3 client is a large share of an idle node's memory.
  const replicationModule = config.replicaUrl ? await import('./replication/index.js') : null;
  const restored = replicationModule ? (await replicationModule.restoreOnEmptyDataDir(config, log)).restored : false;
  // 1b. Fencing: take or resume this node's epoch in the replica before anything can be acknowledged;
  // a node that finds a newer epoch (it was failed over) refuses every write (node/replication/failover).
  const fence = replicationModule ? await replicationModule.startFence(config, log, restored) : null;
  if (fence) closers.push({ name: 'fence', close: () => fence.close() });

  // 2. The master key. Generated only for a local run on an empty data directory.
  const allowGenerate = (opts.allowGeneratedKey ?? isLocalKey(config)) && !restored && !existsSync(join(config.dataDir, DIRECTORY_FILE));
  const mk = masterKeyFor(config, { allowGenerate });
  if (mk.warning) log.warn(mk.warning);

  // 3. The store, then replication (which adopts the databases the store opened).
  // Replication's closer is registered first so it runs last: it ships the frames of every close.
  let replication: Replication | null = null;
  closers.push({ name: 'replication', close: () => replication?.stop() });
  const store = Store.open({
    dataDir: config.dataDir,
    masterKey: mk.key,
    keyMode: config.keyMode,
    maxOpen: config.memory.maxOpenMailboxes,
    mailboxCacheKiB: config.memory.mailboxCacheBytes / 1024,
    trimAfterMs: config.memory.trimIdleSeconds * 1000,
    davResponseCacheBytes: config.memory.davResponseCacheBytes,
    davResponseCacheTotalBytes: config.memory.davResponseCacheTotalBytes,
    indexSchedule: { batch: config.search.indexBatch, delayMs: config.search.indexDelayMs },
  });
  closers.push({ name: 'store', close: () => store.close() });
  replication = replicationModule?.startReplication(config, store, log, {}, fence?.guard) ?? null;
  const queue = queueFor(store);
  // The operations the admin API and the CLI (over the control socket) share: one writer, and a
  // change is reported done once the replica holds it.
  const rep = replication;
  const opsContext: OperationContext = { store, log, replicated: rep ? (ms) => rep.flush(ms) : undefined, queueDepth: () => queue.depth() };
  const operations = localOperations(opsContext, 'api');
  const control = await serveControl({
    dataDir: config.dataDir,
    ops: opsContext,
    replication: rep && replicationModule ? replicationModule.replicationControl(rep, log) : null,
    log,
  });
  closers.push({ name: 'control socket', close: () => control.close() });
  // 4. DKIM keys the infra delivers as systemd credentials (none in a local run).
  importDkimCredentials(store, process.env.CREDENTIALS_DIRECTORY, log);

  // 5. Certificates, shared by every TLS listener and hot-reloaded.
  const responder = new Http01Responder();
  // ACME also covers mta-sts/autoconfig/autodiscover.<domain>, which node/http serves, as far as their DNS allows.
  const certs = await openCertificateStore(config, { responder, extraNames: () => webNamesFor(store.directory.listDomains().map((d) => d.name)) });
  closers.push({ name: 'certificates', close: () => certs.store.close() });
  // `haven certs renew` while the node runs: the node renews, answering the CA with its own responder.
  opsContext.renewCertificate = async (force) => {
    const { renewCertificate } = await import('./tls/index.js');
    const r = await renewCertificate(config, { force, responder, extraNames: () => webNamesFor(store.directory.listDomains().map((d) => d.name)) });
    return { result: r.result, source: r.source, certFile: r.certFile, validTo: r.info?.validTo.toISOString() ?? null, names: r.info?.subjectAltName.replace(/DNS:/g, '') ?? null, answeredBy: r.answeredBy };
  };
  if (certs.created) log.info({ certFile: certs.certFile }, 'made a self-signed certificate for this local run');

  // The process's memory budget and the event-loop watchdog (node/net): one each, whatever listens.
  // The watchdog starts once every listener is up: loading modules and making keys at boot is not a stall of anyone's session.
  configureMemoryBudget({ maxBytes: config.limits.memoryBudgetBytes, highWaterBytes: config.limits.memoryHighWaterBytes });
  const watchdog = new LoopWatchdog({ maxLagMs: config.limits.maxEventLoopLagMs });
  closers.push({ name: 'watchdog', close: () => watchdog.stop() });

  const authLimiter = new AuthLimiter({ maxFailures: config.limits.authFailuresBeforeLockout, lockoutMs: config.limits.lockoutSeconds * 1000 });
  const host = config.listenAddress;
  const ports: Partial<Record<ListenerName, number>> = {};
  const bind = async <T extends { close(): Promise<void> }>(name: ListenerName, port: number, start: () => Promise<T>, portOf: (h: T) => number): Promise<T> => {
    let h: T;
    try {
      h = await start();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') throw new ListenError(name, port, e);
      throw err;
    }
    ports[name] = portOf(h);
    closers.push({ name, close: () => h.close() });
    return h;
  };

  // 6. Mail listeners.
  // One tested mapping from config to SMTP (node/smtp/settings.ts), so every option reaches its listener.
  const smtp = smtpSettings(config);
  // Content filtering (optional): rspamd scores at SMTP time and learns from moves into and out of Junk.
  const rspamd = config.spam.rspamdUrl
    ? new Rspamd({ url: config.spam.rspamdUrl, controllerUrl: config.spam.rspamdControllerUrl || undefined, password: config.spam.rspamdPassword || undefined, timeoutMs: config.spam.rspamdTimeoutSeconds * 1000 })
    : null;
  if (rspamd) {
    const learner = startLearner(store, rspamd, log);
    closers.push({ name: 'rspamd learner', close: async () => learner.stop() });
  }
  const smtpDeps = {
    store,
    log,
    authLimiter,
    tls: certs.store,
    hostname: smtp.hostname,
    queue,
    resolver: opts.resolver,
    limits: smtp.limits,
    spam: { ...smtp.spam, content: rspamd ? rspamdFilter(rspamd, { log, hostname: smtp.hostname }) : undefined },
    allowPlaintextAuthOnLoopback: smtp.allowPlaintextAuthOnLoopback,
    trustedArcSealers: smtp.trustedArcSealers,
    greetPause: smtp.greetPause,
  };
  for (const l of smtp.listeners) {
    const name = l.mode === 'mx' ? 'smtp' : l.implicitTls ? 'submissions' : 'submission';
    await bind(name, l.port, () => startSmtp(smtpDeps, l), (h) => h.port);
  }

  const runner: QueueRunner = startQueueRunner({
    store,
    log,
    hostname: smtp.hostname,
    queue,
    resolver: opts.resolver,
    outbound: { ...opts.outbound, ...smtp.outbound },
  });
  closers.push({ name: 'queue', close: () => runner.close() });

  const imapDeps = {
    store,
    log,
    authLimiter,
    tls: certs.store,
    hostname: config.hostname,
    allowPlaintextOnLoopback: config.allowPlaintextAuthOnLoopback,
    limits: {
      maxLine: config.limits.imapMaxLineBytes,
      maxLiteral: config.limits.imapMaxLiteralBytes,
      appendLimit: config.limits.maxMessageBytes,
      maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
      idleTimeoutMs: config.limits.idleTimeoutSeconds * 1000,
      literalMinus: config.limits.imapLiteralMinus,
      preLoginMaxBytes: config.limits.preLoginMaxBytes,
    },
  };
  await bind('imap', config.ports.imap, () => startImap(imapDeps, { host, port: config.ports.imap, implicitTls: false }), (h) => h.port);
  await bind('imaps', config.ports.imaps, () => startImap(imapDeps, { host, port: config.ports.imaps, implicitTls: true }), (h) => h.port);

  if (config.pop3.enabled) {
    const pop3Deps = {
      store,
      log,
      authLimiter,
      tls: certs.store,
      hostname: config.hostname,
      limits: { maxConnectionsPerIp: config.limits.maxConnectionsPerIp, allowPlaintextOnLoopback: config.allowPlaintextAuthOnLoopback },
    };
    await bind('pop3', config.ports.pop3, () => startPop3(pop3Deps, { host, port: config.ports.pop3, implicitTls: false }), (h) => h.port);
    await bind('pop3s', config.ports.pop3s, () => startPop3(pop3Deps, { host, port: config.ports.pop3s, implicitTls: true }), (h) => h.port);
  }

  const sieveDeps = {
    store,
    log,
    authLimiter,
    tls: certs.store,
    limits: {
      maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
      allowPlaintextOnLoopback: config.allowPlaintextAuthOnLoopback,
      idleTimeoutMs: config.limits.idleTimeoutSeconds * 1000,
      preLoginMaxBytes: config.limits.preLoginMaxBytes,
    },
  };
  await bind('managesieve', config.ports.managesieve, () => startManageSieve(sieveDeps, { host, port: config.ports.managesieve }), (h) => h.port);

  // 7. HTTPS (DAV, admin API, /health, /metrics) and plain HTTP (ACME http-01, redirect).
  const probeHost = host;
  const http = await bind(
    'https',
    config.ports.https,
    () =>
      startHttp(
        {
          store,
          operations,
          tls: certs.store,
          config,
          log,
          authLimiter,
          queue,
          resolver: opts.resolver,
          challenges: responder,
          imip: imipSender(store, queue),
          // Autoconfig names the ports this node listens on (2993 and so on for a local run; the published ones on a server).
          clientPorts: { imaps: ports.imaps, submissions: ports.submissions, submission: ports.submission, pop3s: ports.pop3s, https: config.ports.https || undefined },
          doctor: () => doctorReport(config, store, queue, opts.resolver, () => replication),
          health: {
            listeners: () => Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, { host: probeHost, port: port! }])),
            replication: replication ? () => replication!.status() : undefined,
            queue,
            spam: rspamd ? () => rspamd.health() : undefined,
            eventLoop: () => watchdog.health(),
            fence: fence ? () => fence.fence.state : undefined,
          },
        },
        { host, https: config.ports.https, http: config.ports.http },
      ),
    (h) => h.httpsPort,
  );
  if (http.httpPort !== null) ports.http = http.httpPort;
  if (certs.acme) {
    const acme = certs.acme;
    // Renewal failures keep the old certificate and say so here; nothing else would tell the operator.
    acme.on('issued', (info) => log.info({ names: info.subjectAltName, validTo: info.validTo.toISOString() }, 'installed a new ACME certificate'));
    acme.on('warning', (err) => log.warn({ err: err.message }, 'ACME certificate renewal'));
    acme.start();
    closers.push({ name: 'acme', close: () => acme.stop() });
    // With a replica, the certificate travels to a standby (sealed), which serves it the moment it is promoted.
    if (fence) {
      const carry = () => {
        const cur = acme.current();
        if (cur) fence.shipCertificate(cur, mk.key).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not ship the certificate to the replica; a promoted standby would request its own'));
      };
      acme.on('issued', carry);
      carry();
    }
  }

  // 8. The local admin UI: the edge app served from Node, on loopback only
  // (it is plain HTTP with a password login; on a server the Worker serves it).
  let admin: NodeHandle['admin'] = null;
  if (opts.adminUi !== false && isLoopback(host)) {
    const ui = await bind('admin', config.ports.admin, () => startLocalAdmin(config, { host, httpsPort: ports.https!, certFile: certs.certFile, ports }), (h) => h.port);
    admin = { url: ui.url, login: ui.login };
  } else if (opts.adminUi !== false) {
    log.info({ listenAddress: host }, 'local admin UI not started: it serves only on a loopback listenAddress; the edge Worker serves the admin UI for a server');
  }

  watchdog.start();
  // Starting took a while (keys, certificates, listeners): confirm the epoch afresh, so the first
  // writes do not meet a primary's lease (failover.fenceLeaseMs) that ran out while it started.
  if (fence) await fence.fence.check();
  let closing: Promise<void> | null = null;
  return {
    config,
    store,
    ports,
    masterKey: { origin: mk.origin, warning: mk.warning },
    certificate: { source: certs.source, created: certs.created, certFile: certs.certFile },
    fresh: !hadDirectory && !restored,
    restored,
    replication,
    operations,
    queueRunner: runner,
    admin,
    close: () => (closing ??= closeAll()),
  };
}

/**
 * iMIP (RFC 6047) for DAV scheduling: an invitation, reply or cancellation
 * leaves as mail from the organizer or attendee, DKIM-signed with the From
 * domain's keys like submitted mail. Recipients on this node get it at once
 * (aliases followed), others through the outbound queue.
 */
function imipSender(store: Store, queue: ReturnType<typeof queueFor>): ImipSender {
  return imipMailSender(async (env, raw) => {
    const domain = env.from.slice(env.from.lastIndexOf('@') + 1).toLowerCase();
    const sig = await signMessage(raw, domain, store.directory.dkimKeys(domain));
    const signed = sig ? Buffer.concat([Buffer.from(sig.endsWith('\r\n') ? sig : sig + '\r\n'), raw]) : raw;
    const locals = new Set<string>();
    const outside = new Set<string>();
    const visit = (address: string, depth: number): void => {
      const route = store.directory.resolve(address);
      if (route === undefined) outside.add(address.toLowerCase());
      else if (route?.kind === 'account') locals.add(route.account.id);
      else if (route?.kind === 'alias' && depth < 5) for (const t of route.alias.targets) visit(t, depth + 1);
      // null: no such address on a domain we host; nobody to tell.
    };
    for (const to of env.to) visit(to, 0);
    for (const id of locals) await store.deliver(id, signed);
    if (outside.size > 0) {
      const sender = store.directory.getAccount(env.from);
      queue.enqueue({ accountId: sender?.id ?? null, mailFrom: env.from, raw: signed }, [...outside].map((rcpt) => ({ rcpt })));
    }
  });
}

/**
 * GET /api/v1/doctor: the same report as `haven doctor`, from inside the
 * running node (live replication status and queue). Missing inputs (no
 * public address on the interfaces, no domain yet) are a 409 saying so.
 */
async function doctorReport(config: Config, store: Store, queue: ReturnType<typeof queueFor>, resolver: Resolver | undefined, replication: () => Replication | null): Promise<unknown> {
  const { DoctorInputError, doctorDepsFor, runDoctor } = await import('./doctor/index.js');
  const rep = replication();
  try {
    return await runDoctor(
      doctorDepsFor({
        config,
        directory: store.directory,
        resolver,
        replication: () => {
          if (!rep) return null;
          const s = rep.status();
          return { lagMs: s.lagMs, healthy: s.healthy, lastError: s.lastError, target: s.target, missing: s.missing };
        },
        queue: () => queue.depth(),
      }),
    );
  } catch (err) {
    if (err instanceof DoctorInputError) throw new ApiError(409, err.message);
    throw err;
  }
}

/**
 * The edge app (edge/node.ts) next to the node: it calls the node's admin
 * API over HTTPS with the shared admin secret, trusting the node's own
 * certificate. Its password is made on first start (only a hash is kept) and
 * returned here once so `haven start` can print it.
 */
async function startLocalAdmin(
  config: Config,
  o: { host: string; httpsPort: number; certFile: string; ports: Partial<Record<ListenerName, number>> },
): Promise<{ port: number; url: string; login: string; close(): Promise<void> }> {
  const { createLocalEdge, localAdminPassword } = await import('../edge/node.js');
  const pw = await localAdminPassword(config.dataDir);
  const hostText = o.host.includes(':') ? `[${o.host}]` : o.host;
  const edge = createLocalEdge({
    nodeUrl: `https://${hostText}:${o.httpsPort}`,
    secret: adminSecret(config).secret,
    adminPasswordHash: pw.hash,
    ca: readFileSync(o.certFile),
    mailHost: config.hostname,
    ports: { imaps: o.ports.imaps, submissions: o.ports.submissions, submission: o.ports.submission, pop3s: o.ports.pop3s, https: o.httpsPort },
    pop3: config.pop3.enabled,
    version: packageVersion(),
  });
  const { port, url } = await edge.listen(config.ports.admin, o.host);
  const file = join(config.dataDir, 'admin-password.hash');
  const login = pw.newPassword
    ? `password ${pw.newPassword} (shown once; only its hash is kept)`
    : `the password printed on the first run (forgot it? delete ${file} and restart for a new one)`;
  return { port, url: url + '/', login, close: () => edge.close() };
}
