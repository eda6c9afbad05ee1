/**
 * @module node/http/admin
 * The admin API under /api/v1 (docs/admin-api.md): every request signed by
 * the edge (node/http/signature), JSON in and out, errors as
 * `{"error": "<what to do next>"}`. Handlers call the Store, Directory and
 * Queue APIs only; the one catch at the bottom maps domain errors to statuses.
 *
 * Names arrive from people and end up in HTML on the edge: anything that
 * looks like markup is refused with a 400 that does not echo it back.
 */
import { Hono, type Context } from 'hono';
import type { Operations } from '../admin/operations.js';
import type { DmarcPolicy } from '../dns/index.js';
import type { ReplicationStatus } from '../replication/index.js';
import type { Resolver } from '../smtp/dns.js';
import type { Queue } from '../store/queue.js';
import type { Store } from '../store/index.js';
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { domainRecords, isLive, type PublicAddresses } from './dns-records.js';
import { ApiError, toApiError } from './errors.js';
import { NonceCache, verifyRequest } from './signature.js';
import { readBoundedBody } from '../util/bounded-body.js';

export interface AdminDeps {
  store: Store;
  /** Domains, accounts, aliases, app passwords: the operations the CLI uses too (node/admin). */
  operations: Operations;
  queue: Queue;
  /** The shared secret the edge signs with (config admin.secret). */
  secret: string;
  log: Logger;
  /** config.hostname: the MX target and the host the DNS records name. */
  mailHost: string;
  pop3: boolean;
  /** config.spfExtra: SPF terms (a relay's include) the domains' SPF records list before -all. */
  spfExtra?: readonly string[];
  /** config.dmarcPolicy: the p= the domains' DMARC records publish. */
  dmarcPolicy?: DmarcPolicy;
  /** The node's public addresses for the DNS records; when absent, the machine's interfaces, then mailHost's A/AAAA. */
  publicAddresses?: PublicAddresses | (() => Promise<PublicAddresses>);
  /** Public addresses found on the machine's interfaces (node/doctor's publicAddresses). */
  interfaceAddresses?: () => Partial<PublicAddresses> | Promise<Partial<PublicAddresses>>;
  /** For `?live=1` on the DNS records and the address lookup (default: the system resolver). */
  resolver: Resolver;
  replication?: () => ReplicationStatus | null;
  /** `haven doctor` as data (issue 10); 501 until wired. */
  doctor?: () => Promise<unknown>;
  nonces?: NonceCache;
  /** Clock for signature checks, unix seconds (tests). */
  now?: () => number;
  maxBodyBytes?: number;
}

type Env = { Variables: { body: Uint8Array } };

/** The body as JSON (the operation validates its fields). */
function parseJson(c: Context<Env>): unknown {
  const bytes = c.get('body');
  if (bytes.length === 0) throw new ApiError(400, 'this request needs a JSON body; see docs/admin-api.md');
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new ApiError(400, 'the body is not valid UTF-8 JSON; send a JSON object');
  }
}

/** Reads the body up to `limit` bytes (the signature covers its digest, so it is read before anything else). */
async function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const body = await readBoundedBody(req, limit);
  if (body === null) throw new ApiError(413, `the body is larger than ${limit} bytes; send less`);
  // A copy with its own ArrayBuffer: small Buffers share a pool, and Web Crypto digests whole views.
  return new Uint8Array(body);
}

/**
 * The path and query exactly as the client sent them (the bytes the edge
 * signed); the parsed URL only when there is no socket (app.request in tests).
 */
function requestTarget(c: Context<Env>): string {
  const raw = (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url;
  if (raw && raw.startsWith('/')) return raw;
  const url = new URL(c.req.url);
  return url.pathname + url.search;
}

function resetWarning(address: string, keptMail: boolean): string {
  return keptMail
    ? `The password of ${address} was reset. This node runs in managed mode, so all mail stays in place and the recovery key is unchanged.`
    : `The password of ${address} was reset. In zero-access mode the server cannot open the old mailbox without the old password or recovery key, so ${address} starts again with an EMPTY mailbox. The old mail was set aside, still encrypted, and can be opened only with the old recovery key. Every app password was revoked. Give the owner the new recovery key now: it is shown only once.`;
}

export function adminApp(deps: AdminDeps): Hono<Env> {
  const app = new Hono<Env>();
  const nonces = deps.nonces ?? new NonceCache();
  const maxBody = deps.maxBodyBytes ?? 64 * 1024;
  const { store, queue } = deps;
  const log = deps.log.child({ proto: 'admin' });

  app.onError((err, c) => {
    const e = toApiError(err);
    if (e) return c.json({ error: e.message }, e.status);
    reportUnexpected(err);
    log.error({ err, method: c.req.method }, 'unexpected error in admin API request');
    return c.json({ error: 'internal error; the node logged it — retry, and check the node log if it persists' }, 500);
  });

  app.use('*', async (c, next) => {
    c.header('Cache-Control', 'no-store');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    if (!deps.secret) throw new ApiError(503, 'the admin API is off because admin.secret is empty; set admin.secret (HAVEN_ADMIN_SECRET) to the edge\'s secret');
    const body = await readBody(c.req.raw, maxBody);
    const v = await verifyRequest(deps.secret, { method: c.req.method, path: requestTarget(c), body, headers: c.req.raw.headers, now: deps.now?.() }, nonces);
    if (!v.ok) {
      log.warn({ method: c.req.method, why: v.reason }, 'admin API: refused an unsigned or badly signed request');
      return c.json({ error: v.reason }, 401);
    }
    c.set('body', body);
    await next();
  });

  // ---- domains, accounts, app passwords, aliases: node/admin/operations, shared with the CLI

  const ops = deps.operations;
  const body = (c: Context<Env>): Record<string, unknown> => {
    const v = parseJson(c);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 'the body must be a JSON object; see docs/admin-api.md');
    return v as Record<string, unknown>;
  };
  const domainView = (d: { name: string; createdAt: string; accounts: number; aliases: number }) => ({ name: d.name, createdAt: d.createdAt, accounts: d.accounts, aliases: d.aliases });
  /** Path parameters name things that must exist; a missing one is a 404 that points at the listing. */
  const existingDomain = async (name: string) => {
    const d = await ops.call('domain.get', { name });
    if (!d) throw new ApiError(404, `no domain ${name}; list domains with GET /api/v1/domains`);
    return d;
  };
  const existingAccount = async (address: string) => {
    const a = await ops.call('account.get', { address });
    if (!a) throw new ApiError(404, `no account ${address}; list accounts with GET /api/v1/accounts`);
    return a;
  };

  app.get('/domains', async (c) => c.json({ domains: (await ops.call('domain.list', {})).map(domainView) }));

  app.post('/domains', async (c) => {
    const { name } = body(c);
    const d = await ops.call('domain.add', { name: name as string });
    log.info({ domain: d.name }, 'admin: domain added');
    return c.json({ domain: { name: d.name, createdAt: d.createdAt, accounts: 0, aliases: 0 } }, 201);
  });

  app.delete('/domains/:name', async (c) => {
    const d = await existingDomain(c.req.param('name'));
    await ops.call('domain.remove', { name: d.name });
    log.info({ domain: d.name }, 'admin: domain removed');
    return c.body(null, 204);
  });

  /**
   * The interfaces come first: the records are most needed before DNS is
   * published (a Hetzner server has both public addresses on eth0). Behind
   * NAT the mail host's own A/AAAA records fill what the interfaces lack.
   */
  const addresses = async (): Promise<PublicAddresses> => {
    const p = deps.publicAddresses;
    if (p) return typeof p === 'function' ? p() : p;
    const found = (await deps.interfaceAddresses?.()) ?? {};
    const lookup = async (type: 'A' | 'AAAA') => {
      try {
        return ((await deps.resolver(deps.mailHost, type)) as string[])[0];
      } catch {
        return undefined;
      }
    };
    const ipv4 = found.ipv4 ?? (await lookup('A'));
    const ipv6 = found.ipv6 ?? (await lookup('AAAA'));
    if (ipv4 && ipv6) return { ipv4, ipv6 };
    const missing = [!ipv4 && 'IPv4', !ipv6 && 'IPv6'].filter(Boolean).join(' and ');
    throw new ApiError(409, `the node cannot tell its public ${missing} address: the machine has none on its interfaces and ${deps.mailHost} has no ${!ipv4 ? 'A' : ''}${!ipv4 && !ipv6 ? ' and ' : ''}${!ipv6 ? 'AAAA' : ''} record yet; publish the mail host's A and AAAA records and retry`);
  };

  app.get('/domains/:name/dns', async (c) => {
    const d = await existingDomain(c.req.param('name'));
    const records = domainRecords({ store, mailHost: deps.mailHost, pop3: deps.pop3, spfExtra: deps.spfExtra, dmarcPolicy: deps.dmarcPolicy, addresses: await addresses() }, d.name);
    if (c.req.query('live') === '1' || c.req.query('live') === 'true') {
      await Promise.all(records.map(async (r) => (r.live = await isLive(r, deps.resolver))));
    }
    return c.json({ records });
  });

  app.post('/domains/:name/dkim/rotate', async (c) => {
    const d = await existingDomain(c.req.param('name'));
    const k = await ops.call('dkim.rotate', { domain: d.name });
    log.info({ domain: d.name, selector: k.selector }, 'admin: DKIM key added');
    return c.json({
      selector: k.selector,
      record: k.record,
      note: 'publish this TXT record; keep the previous key\'s record until no mail signed with it is in flight (a few days)',
    });
  });

  app.delete('/domains/:name/dkim/:selector', async (c) => {
    const d = await existingDomain(c.req.param('name'));
    const selector = c.req.param('selector');
    await ops.call('dkim.retire', { domain: d.name, selector });
    log.info({ domain: d.name, selector }, 'admin: DKIM key retired');
    return c.body(null, 204);
  });

  // ---- accounts

  app.get('/accounts', async (c) => {
    const domain = c.req.query('domain');
    if (domain !== undefined) await existingDomain(domain);
    const accounts = (await ops.call('account.list', { domain: domain || undefined })).map((a) => ({
      address: a.address,
      createdAt: a.createdAt,
      quotaBytes: a.quotaBytes,
      usedBytes: a.usedBytes,
      keyMode: a.keyMode,
    }));
    return c.json({ accounts });
  });

  app.post('/accounts', async (c) => {
    const b = body(c);
    const r = await ops.call('account.add', { address: b.address as string, password: b.password as string, quotaBytes: b.quotaBytes as number | undefined });
    log.info({ replicated: r.replicated }, 'admin: account created');
    return c.json({ address: r.address, recoveryKey: r.recoveryKey }, 201);
  });

  app.patch('/accounts/:address', async (c) => {
    const a = await existingAccount(c.req.param('address'));
    const { quotaBytes } = body(c);
    if (quotaBytes === undefined) throw new ApiError(400, 'field quotaBytes: Required; see docs/admin-api.md');
    const u = await ops.call('account.set', { address: a.address, quotaBytes: quotaBytes as number });
    return c.json({ address: u.address, quotaBytes: u.quotaBytes });
  });

  app.post('/accounts/:address/reset-password', async (c) => {
    const a = await existingAccount(c.req.param('address'));
    const { password } = body(c);
    const r = await ops.call('account.reset', { address: a.address, password: password as string });
    log.warn({ keptMail: r.keptMail }, 'admin: password reset');
    return c.json({ recoveryKey: r.recoveryKey, keptMail: r.keptMail, warning: resetWarning(a.address, r.keptMail) });
  });

  app.delete('/accounts/:address', async (c) => {
    const a = await existingAccount(c.req.param('address'));
    await ops.call('account.remove', { address: a.address });
    log.info('admin: account deleted');
    return c.body(null, 204);
  });

  // ---- app passwords

  app.get('/accounts/:address/app-passwords', async (c) => {
    const a = await existingAccount(c.req.param('address'));
    const list = (await ops.call('app-password.list', { address: a.address })).map((p) => ({ id: p.id, name: p.label, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt }));
    return c.json({ appPasswords: list });
  });

  app.post('/accounts/:address/app-passwords', async (c) => {
    const a = await existingAccount(c.req.param('address'));
    const { name, password } = body(c);
    if (typeof name !== 'string') throw new ApiError(400, 'field name: Required; see docs/admin-api.md');
    const r = await ops.call('app-password.add', { address: a.address, label: name, password: password as string });
    return c.json({ id: r.id, name: r.label, password: r.password }, 201);
  });

  app.delete('/accounts/:address/app-passwords/:id', async (c) => {
    const a = await existingAccount(c.req.param('address'));
    await ops.call('app-password.revoke', { address: a.address, id: c.req.param('id') });
    return c.body(null, 204);
  });

  // ---- aliases

  // ---- Sieve: the domain's scripts ("before" runs ahead of every account's own), an account's state

  app.get('/domains/:name/sieve', async (c) => {
    const d = await existingDomain(c.req.param('name'));
    return c.json({ scripts: await ops.call('sieve.domain.list', { domain: d.name }) });
  });

  app.get('/domains/:name/sieve/:script', async (c) => {
    const d = await existingDomain(c.req.param('name'));
    return c.json(await ops.call('sieve.domain.get', { domain: d.name, name: c.req.param('script') }));
  });

  app.put('/domains/:name/sieve/:script', async (c) => {
    const d = await existingDomain(c.req.param('name'));
    const r = await ops.call('sieve.domain.put', { domain: d.name, name: c.req.param('script'), source: body(c).source as string });
    return c.json({ name: r.name });
  });

  app.delete('/domains/:name/sieve/:script', async (c) => {
    const d = await existingDomain(c.req.param('name'));
    await ops.call('sieve.domain.remove', { domain: d.name, name: c.req.param('script') });
    return c.body(null, 204);
  });

  app.get('/accounts/:address/sieve', async (c) => {
    const a = await existingAccount(c.req.param('address'));
    return c.json(await ops.call('sieve.status', { address: a.address }));
  });

  app.get('/aliases', async (c) => {
    const domain = c.req.query('domain');
    if (domain !== undefined) await existingDomain(domain);
    return c.json({ aliases: await ops.call('alias.list', { domain: domain || undefined }) });
  });

  app.post('/aliases', async (c) => {
    const b = body(c);
    const alias = await ops.call('alias.add', { address: b.address as string, targets: b.targets as string[] });
    return c.json({ address: alias.address, targets: alias.targets }, 201);
  });

  app.delete('/aliases/:address', async (c) => {
    await ops.call('alias.remove', { address: c.req.param('address') });
    return c.body(null, 204);
  });

  // ---- queue

  app.get('/queue', (c) => {
    const messages = queue.list().map((m) => ({
      id: m.id,
      from: m.mailFrom,
      recipients: queue.recipients(m.id).map((r) => ({
        address: r.rcpt,
        state: r.state,
        attempts: r.attempts,
        nextAttemptAt: r.state === 'queued' ? new Date(r.nextAttemptAt).toISOString() : null,
        lastError: r.lastError,
      })),
      createdAt: new Date(m.createdAt).toISOString(),
      size: m.size,
    }));
    return c.json({ messages });
  });

  const requireQueued = (id: string) => {
    if (!/^[0-9a-z]{1,64}$/.test(id)) throw new ApiError(400, 'a queue id is lowercase letters and digits, as GET /api/v1/queue lists them');
    if (!queue.message(id)) throw new ApiError(404, `no queued message ${id}; list the queue with GET /api/v1/queue`);
    return id;
  };

  app.post('/queue/:id/retry', (c) => {
    const id = requireQueued(c.req.param('id'));
    const n = queue.retryNow(id);
    return c.json({ id, retrying: n });
  });

  app.delete('/queue/:id', (c) => {
    queue.remove(requireQueued(c.req.param('id')));
    return c.body(null, 204);
  });

  // ---- imports and exports (node/transfer): running and recent jobs with their progress

  app.get('/transfers', async (c) => c.json({ transfers: await ops.call('transfer.list', {}) }));

  // ---- replication, doctor

  app.get('/replication', (c) => {
    const st = deps.replication?.() ?? null;
    if (!st) return c.json({ enabled: false, target: null, lagSeconds: null, databases: 0, lastShippedAt: null, errors: [] });
    return c.json({
      enabled: true,
      target: st.target,
      lagSeconds: Math.round(st.lagMs / 100) / 10,
      databases: st.databases,
      lastShippedAt: st.lastUploadAt === null ? null : new Date(st.lastUploadAt).toISOString(),
      errors: st.lastError ? [{ message: st.lastError, at: st.lastErrorAt === null ? null : new Date(st.lastErrorAt).toISOString() }] : [],
      healthy: st.healthy,
      pendingBytes: st.pendingBytes,
      // Databases the replica does not hold at all: the admin UI shows each as a failure.
      missing: st.missing,
    });
  });

  app.get('/doctor', async (c) => {
    if (!deps.doctor) throw new ApiError(501, 'doctor is not available on this node yet; run `haven doctor` on the server');
    return c.json((await deps.doctor()) as object);
  });

  app.all('*', () => {
    throw new ApiError(404, 'no such admin API route; see docs/admin-api.md');
  });

  return app;
}
