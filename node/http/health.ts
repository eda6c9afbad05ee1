/**
 * @module node/http/health
 * The node's health as one JSON document (docs/admin-api.md, GET /health):
 * each listener accepting (a real TCP connect, so a wedged accept loop shows),
 * the store answering, replication lag, queue depth, certificate days left
 * free disk and the event loop's lag (node/net watchdog). `ok` is false, and the route answers 503, when any part
 * that matters for mail flowing or being kept safe is unhealthy.
 */
import { statfs } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import type { ReplicationStatus } from '../replication/index.js';
import type { Store } from '../store/index.js';

export interface ListenerAddress {
  host: string;
  port: number;
  /** Implicit TLS: the probe completes a handshake (a bare TCP close makes TLS servers log an error). Default: by name. */
  tls?: boolean;
}

/** Listener names that speak TLS from the first byte. */
const IMPLICIT_TLS = new Set(['submissions', 'smtps', 'imaps', 'pop3s', 'https']);

/** A listener is probed by connecting to its address, or by a check of its own. */
export type ListenerProbe = ListenerAddress | (() => boolean | Promise<boolean>);

export interface HealthSource {
  /** Listener name (smtp, submission, imaps, https…) → probe; a function when ports are known only after start. */
  listeners?: Record<string, ListenerProbe> | (() => Record<string, ListenerProbe>);
  /** Replication status, or null/absent when replication is off. */
  replication?: () => ReplicationStatus | null;
  /** The outbound queue (node/store Queue). */
  queue?: { depth(): { queued: number; oldestAt: number | null } };
  /** The content filter (rspamd), when configured. */
  spam?: () => { state: 'unknown' | 'up' | 'down'; since?: number; error?: string };
  /** The event-loop watchdog (node/net LoopWatchdog): unhealthy while the loop stalls or just did. */
  eventLoop?: () => { ok: boolean; lagMs: number; maxLagMs: number; lastStallMs: number | null };
  /** The fence (node/replication/epoch): this node's role in the replica; absent without a replica. */
  fence?: () => { kind: string; epoch?: number; newer?: number };
}

export interface CertificateSource {
  daysUntilExpiry(now?: Date): number;
  readonly info: { subject: string };
}

export interface HealthThresholds {
  /** Lag above which replication counts as unhealthy, seconds. */
  maxReplicationLagSeconds: number;
  /** Fewer days than this left on the certificate is unhealthy (renewal has been failing for weeks). */
  minCertificateDays: number;
  /** Less free space than this on the data volume is unhealthy. */
  minFreeBytes: number;
  /** Listener probe timeout, ms. */
  probeTimeoutMs: number;
}

export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = {
  maxReplicationLagSeconds: 300,
  minCertificateDays: 7,
  minFreeBytes: 512 * 1024 * 1024,
  probeTimeoutMs: 2000,
};

export interface Health {
  ok: boolean;
  listeners: Record<string, boolean>;
  store: { ok: boolean; error?: string };
  replication: { enabled: boolean; lagSeconds: number | null; ok: boolean; error?: string | null };
  queue: { depth: number; oldestSeconds: number | null };
  certificate: { daysLeft: number | null; subject: string | null; ok: boolean };
  disk: { freeBytes: number | null; ok: boolean };
  /**
   * Present when rspamd is configured. Its outage does not make the node
   * unhealthy (mail still flows, scored by Haven alone) but shows here.
   */
  spam?: { rspamd: 'unknown' | 'up' | 'down'; ok: boolean; sinceSeconds: number | null; error?: string };
  eventLoop: { ok: boolean; lagMs: number | null; maxLagMs: number | null; lastStallMs: number | null };
  /** primary (holding `epoch`), or fenced: another node took the replica and this one refuses every write. */
  role: { role: string; epoch: number | null; ok: boolean; newerEpoch?: number };
  version: string;
}

/**
 * True when the listener accepts a connection within the timeout (and, for
 * implicit TLS, completes a handshake; the certificate is not judged here:
 * its expiry has its own check).
 */
export function tcpProbe(addr: ListenerAddress, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // A wildcard bind is reached through loopback.
    const host = addr.host === '0.0.0.0' ? '127.0.0.1' : addr.host === '::' ? '::1' : addr.host;
    const sock = addr.tls ? tls.connect({ host, port: addr.port, rejectUnauthorized: false, servername: host.includes(':') || /^[\d.]+$/.test(host) ? undefined : host }) : net.connect({ host, port: addr.port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      if (ok && addr.tls) sock.end();
      else sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once(addr.tls ? 'secureConnect' : 'connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export interface HealthDeps {
  store: Store;
  tls: CertificateSource;
  dataDir: string;
  version: string;
  source?: HealthSource;
  thresholds?: Partial<HealthThresholds>;
}

export async function checkHealth(deps: HealthDeps, now = Date.now()): Promise<Health> {
  const t = { ...DEFAULT_HEALTH_THRESHOLDS, ...deps.thresholds };
  const src = deps.source ?? {};
  const probes = typeof src.listeners === 'function' ? src.listeners() : (src.listeners ?? {});
  const listenerEntries = await Promise.all(
    Object.entries(probes).map(async ([name, p]): Promise<[string, boolean]> => {
      try {
        return [name, typeof p === 'function' ? await p() : await tcpProbe({ ...p, tls: p.tls ?? IMPLICIT_TLS.has(name) }, t.probeTimeoutMs)];
      } catch {
        return [name, false];
      }
    }),
  );
  const listeners = Object.fromEntries(listenerEntries);

  let store: Health['store'];
  try {
    deps.store.directory.getSetting('health.probe');
    store = { ok: true };
  } catch (err) {
    store = { ok: false, error: `the directory database does not answer (${(err as Error).message}); see the node's log` };
  }

  let replication: Health['replication'];
  try {
    const st = src.replication?.() ?? null;
    if (!st) replication = { enabled: false, lagSeconds: null, ok: true };
    else {
      const lagSeconds = Math.round(st.lagMs / 100) / 10;
      replication = { enabled: true, lagSeconds, ok: st.healthy && lagSeconds <= t.maxReplicationLagSeconds, error: st.lastError };
    }
  } catch (err) {
    replication = { enabled: true, lagSeconds: null, ok: false, error: (err as Error).message };
  }

  let queue: Health['queue'] = { depth: 0, oldestSeconds: null };
  try {
    const q = src.queue?.depth();
    if (q) queue = { depth: q.queued, oldestSeconds: q.oldestAt === null ? null : Math.max(0, Math.round((now - q.oldestAt) / 1000)) };
  } catch {
    store = { ok: false, error: 'the outbound queue does not answer; see the node\'s log' };
  }

  let certificate: Health['certificate'];
  try {
    const daysLeft = deps.tls.daysUntilExpiry(new Date(now));
    certificate = { daysLeft, subject: deps.tls.info.subject.replace(/\n/g, ', '), ok: daysLeft >= t.minCertificateDays };
  } catch {
    certificate = { daysLeft: null, subject: null, ok: false };
  }

  let disk: Health['disk'];
  try {
    const s = await statfs(deps.dataDir);
    const freeBytes = Number(s.bavail) * Number(s.bsize);
    disk = { freeBytes, ok: freeBytes >= t.minFreeBytes };
  } catch {
    disk = { freeBytes: null, ok: false };
  }

  let spam: Health['spam'];
  if (src.spam) {
    const st = src.spam();
    spam = {
      rspamd: st.state,
      ok: st.state !== 'down',
      sinceSeconds: st.since === undefined ? null : Math.max(0, Math.round((now - st.since) / 1000)),
      ...(st.error ? { error: `rspamd does not answer (${st.error}); mail is scored by Haven alone until it does` } : {}),
    };
  }

  const eventLoop = src.eventLoop?.() ?? { ok: true, lagMs: null, maxLagMs: null, lastStallMs: null };
  const f = src.fence?.() ?? null;
  const role: Health['role'] = f ? { role: f.kind, epoch: f.epoch ?? null, ok: f.kind === 'primary', ...(f.newer !== undefined ? { newerEpoch: f.newer } : {}) } : { role: 'primary', epoch: null, ok: true };
  const ok = Object.values(listeners).every(Boolean) && store.ok && replication.ok && certificate.ok && disk.ok && eventLoop.ok && role.ok;
  return { ok, listeners, store, replication, queue, certificate, disk, eventLoop, ...(spam ? { spam } : {}), role, version: deps.version };
}
