/**
 * @module edge/node-api
 * The node's admin API as the edge sees it (docs/admin-api.md): every
 * /api/v1 request signed with the shared secret, JSON in and out, and two
 * errors that say what to do next: the node answered with an error, or the
 * node could not be reached at all.
 */
import { signRequest } from '../node/http/signature.js';

export class NodeApiError extends Error {
  override name = 'NodeApiError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class NodeUnreachableError extends Error {
  override name = 'NodeUnreachableError';
}

/** What the node's GET /health reports (fields may be missing on older nodes). */
export interface NodeHealth {
  ok: boolean;
  listeners?: Record<string, boolean>;
  store?: { ok: boolean };
  replication?: { enabled: boolean; lagSeconds: number | null; ok: boolean };
  queue?: { depth: number; oldestSeconds: number | null };
  certificate?: { daysLeft: number | null; subject?: string };
  disk?: { freeBytes: number | null; ok: boolean };
  /** Present when the node uses rspamd (docs/filtering.md); down means Haven's own score decides alone. */
  spam?: { rspamd: 'unknown' | 'up' | 'down'; ok: boolean; sinceSeconds: number | null; error?: string };
  /** The node's role in the replica: primary at an epoch, or fenced (another node took over). */
  role?: { role: string; epoch: number | null; ok: boolean; newerEpoch?: number };
  version?: string;
}

/** What a standby's /health reports (node/http/standby-app). */
export interface StandbyHealth {
  ok: boolean;
  role: string;
  epoch: number | null;
  follow?: { lagSeconds: number; behindObjects: number; databases: number; lastError: string | null; caughtUpAt: string | null };
  /** Who was primary since when: one entry per epoch. */
  history?: { epoch: number; at: number; how: string }[];
  /** The standby's own look at the primary (node/failover/witness); null or absent when it has none. */
  witness?: { enabled: boolean; agreementSeconds: number; primaryUp: boolean | null; checkedAt: string | null; failingSince: string | null; checks: { name: string; ok: boolean; detail: string }[] } | null;
}

export interface HealthProbe {
  ok: boolean;
  /** HTTP status, or 0 when the node did not answer. */
  status: number;
  ms: number;
  health?: NodeHealth;
  error?: string;
}

export interface NodeApiOptions {
  baseUrl: string;
  secret: string;
  fetch?: typeof fetch;
  /** Per-request time limit; a hung node must not hang the admin UI. */
  timeoutMs?: number;
}

export class NodeApi {
  readonly baseUrl: string;
  private readonly fetcher: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: NodeApiOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.fetcher = opts.fetch ?? ((...a) => fetch(...a));
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetcher(this.baseUrl + path, { ...init, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : String((err as Error).cause ?? (err as Error).message);
      throw new NodeUnreachableError(`the node at ${this.baseUrl} could not be reached (${why}): check that it is running (\`systemctl status haven\` on the server) and that NODE_URL is right`);
    }
  }

  /** A signed admin API call; resolves to the parsed JSON body (undefined for 204). */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(await signRequest(this.opts.secret, { method, path, body: text ?? '' })),
    };
    if (text !== undefined) headers['content-type'] = 'application/json';
    const res = await this.send(path, { method, headers, body: text });
    const raw = await res.text();
    let json: unknown;
    try {
      json = raw ? JSON.parse(raw) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const msg = (json as { error?: unknown } | undefined)?.error;
      if (typeof msg === 'string' && msg) throw new NodeApiError(res.status, msg);
      if (res.status === 401) throw new NodeApiError(401, 'the node refused the edge\'s signature: set the same admin secret on both (EDGE_SHARED_SECRET on the Worker, admin.secret on the node) and check both clocks');
      throw new NodeApiError(res.status, `the node answered ${res.status} ${res.statusText} for ${method} ${path}: check the node's log (\`journalctl -u haven\`)`);
    }
    return json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }
  delete(path: string): Promise<unknown> {
    return this.call('DELETE', path);
  }

  /** GET /health (unsigned): never throws, so the probe and dashboard can record the failure. */
  async health(now: () => number = Date.now): Promise<HealthProbe> {
    const t0 = now();
    try {
      const res = await this.send('/health', { headers: { accept: 'application/json' } });
      const ms = now() - t0;
      let health: NodeHealth | undefined;
      try {
        health = (await res.json()) as NodeHealth;
      } catch {
        health = undefined;
      }
      const ok = res.status === 200 && health?.ok !== false;
      return { ok, status: res.status, ms, health, error: ok ? undefined : describeUnhealthy(res.status, health) };
    } catch (err) {
      return { ok: false, status: 0, ms: now() - t0, error: (err as Error).message };
    }
  }
}

/** One line naming what is wrong in an unhealthy /health answer. */
export function describeUnhealthy(status: number, h: NodeHealth | undefined): string {
  if (!h) return `the node answered ${status} without a health report: check the node's log (\`journalctl -u haven\`)`;
  const bad: string[] = [];
  for (const [name, up] of Object.entries(h.listeners ?? {})) if (!up) bad.push(`${name} listener down`);
  if (h.store && !h.store.ok) bad.push('store not ok');
  if (h.role && !h.role.ok) bad.push(`${h.role.role}: another node holds epoch ${h.role.newerEpoch ?? '?'} and this one refuses writes`);
  if (h.replication?.enabled && !h.replication.ok) bad.push(`replication behind (${h.replication.lagSeconds ?? '?'} s)`);
  if (h.disk && !h.disk.ok) bad.push('disk nearly full');
  if (h.certificate?.daysLeft != null && h.certificate.daysLeft < 7) bad.push(`certificate expires in ${h.certificate.daysLeft} days`);
  return bad.length ? `${bad.join(', ')}: see the dashboard and the node's log` : `the node reported unhealthy (${status}): check the node's log`;
}

export const enc = encodeURIComponent;

// Response shapes of docs/admin-api.md, as far as the edge reads them.
export interface DomainInfo {
  name: string;
  createdAt?: string | number;
  accounts?: number;
  aliases?: number;
}
export interface DnsRecordInfo {
  type: string;
  name: string;
  value: string;
  priority?: number;
  purpose?: string;
  live?: boolean;
}
export interface AccountInfo {
  address: string;
  createdAt?: string | number;
  quotaBytes?: number | null;
  usedBytes?: number | null;
  keyMode?: string;
}
export interface AliasInfo {
  address: string;
  targets: string[];
}
export interface AppPasswordInfo {
  id: string | number;
  name: string;
  createdAt?: string | number;
  lastUsedAt?: string | number | null;
}
export interface QueueRecipient {
  address: string;
  state: string;
  attempts: number;
  nextAttemptAt?: string | number | null;
  lastError?: string | null;
}
export interface QueueMessage {
  id: string | number;
  from: string;
  recipients: QueueRecipient[];
  createdAt?: string | number;
  size?: number;
}
export interface ReplicationInfo {
  enabled: boolean;
  target?: string | null;
  lagSeconds?: number | null;
  databases?: number | unknown[] | null;
  lastShippedAt?: string | number | null;
  errors?: unknown;
  /** Databases the replica does not hold at all (a restore would lose them). */
  missing?: string[];
}
