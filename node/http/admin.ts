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
import { z } from 'zod';
import { dkimTxt, type DmarcPolicy } from '../dns/index.js';
import type { ReplicationStatus } from '../replication/index.js';
import { compile, isScriptName, SieveSyntaxError } from '../sieve/index.js';
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

const MARKUP = /[<>"`\\\u0000-\u001f\u007f\s]/;

/** Refuses names carrying markup or control characters before any store code sees (or echoes) them. */
function safeName(kind: 'domain' | 'address', value: string): string {
  if (value.length > 320) throw new ApiError(400, `the ${kind} is too long; ${kind === 'domain' ? 'a domain name has at most 253 characters' : 'an address has at most 320 characters'}`);
  if (MARKUP.test(value) || (kind === 'domain' && !/^[\p{L}\p{N}.-]+$/u.test(value))) {
    throw new ApiError(400, kind === 'domain'
      ? 'a domain name may contain only letters, digits, hyphens and dots (like example.org); remove the other characters'
      : 'an address may not contain spaces, quotes, angle brackets, backslashes or control characters; type it as name@example.org');
  }
  return value;
}

const addressField = z.string().min(1).max(320);
const schemas = {
  domain: z.object({ name: z.string().min(1).max(253) }),
  account: z.object({ address: addressField, password: z.string().min(1).max(1024), quotaBytes: z.number().int().min(0).optional() }),
  patchAccount: z.object({ quotaBytes: z.number().int().min(0) }),
  reset: z.object({ password: z.string().min(1).max(1024) }),
  alias: z.object({ address: addressField, targets: z.array(addressField).min(1).max(100) }),
  appPassword: z.object({ name: z.string().min(1).max(100), password: z.string().min(1).max(1024) }),
  sieve: z.object({ source: z.string().max(64 * 1024) }),
};

function parse<T>(c: Context<Env>, schema: z.ZodType<T>): T {
  const bytes = c.get('body');
  if (bytes.length === 0) throw new ApiError(400, 'this request needs a JSON body; see docs/admin-api.md');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new ApiError(400, 'the body is not valid UTF-8 JSON; send a JSON object');
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ApiError(400, `field ${i.path.join('.') || '(body)'}: ${i.message}; see docs/admin-api.md`);
  }
  return r.data;
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
  const dir = store.directory;
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

  // ---- domains

  const domainView = (d: { name: string; createdAt: number }) => ({
    name: d.name,
    createdAt: new Date(d.createdAt).toISOString(),
    accounts: dir.listAccounts(d.name).length,
    aliases: dir.listAliases(d.name).length,
  });

  app.get('/domains', (c) => c.json({ domains: dir.listDomains().map(domainView) }));

  app.post('/domains', (c) => {
    const { name } = parse(c, schemas.domain);
    const d = dir.addDomain(safeName('domain', name));
    log.info({ domain: d.name }, 'admin: domain added');
    return c.json({ domain: domainView(d) }, 201);
  });

  const requireDomain = (raw: string) => {
    const d = dir.getDomain(safeName('domain', raw));
    if (!d) throw new ApiError(404, `no domain ${raw}; list domains with GET /api/v1/domains`);
    return d;
  };

  app.delete('/domains/:name', (c) => {
    const d = requireDomain(c.req.param('name'));
    const n = dir.listAccounts(d.name).length;
    if (n > 0) throw new ApiError(409, `domain ${d.name} still has ${n} account(s); delete them first`);
    dir.removeDomain(d.name);
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
    const d = requireDomain(c.req.param('name'));
    const records = domainRecords({ store, mailHost: deps.mailHost, pop3: deps.pop3, spfExtra: deps.spfExtra, dmarcPolicy: deps.dmarcPolicy, addresses: await addresses() }, d.name);
    if (c.req.query('live') === '1' || c.req.query('live') === 'true') {
      await Promise.all(records.map(async (r) => (r.live = await isLive(r, deps.resolver))));
    }
    return c.json({ records });
  });

  /** A selector per rotation (the directory's default is per month, which a second rotation would reuse). */
  const rotateKey = (domain: string) => {
    const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    for (let i = 0; ; i++) {
      try {
        return dir.addDkimKey(domain, 'rsa', `haven${stamp}${i ? `-${i}` : ''}`);
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE' || i >= 5) throw err;
      }
    }
  };

  app.post('/domains/:name/dkim/rotate', (c) => {
    const d = requireDomain(c.req.param('name'));
    const k = rotateKey(d.name);
    log.info({ domain: d.name, selector: k.selector }, 'admin: DKIM key added');
    return c.json({
      selector: k.selector,
      record: { type: 'TXT', name: `${k.selector}._domainkey.${d.name}`, value: dkimTxt({ selector: k.selector, publicKey: k.publicKeyDns, algorithm: k.algorithm }) },
      note: 'publish this TXT record; keep the previous key\'s record until no mail signed with it is in flight (a few days)',
    });
  });

  app.delete('/domains/:name/dkim/:selector', (c) => {
    const d = requireDomain(c.req.param('name'));
    const selector = c.req.param('selector');
    const active = dir.dkimKeys(d.name);
    if (!active.some((k) => k.selector === selector)) throw new ApiError(404, `no active DKIM key with that selector for ${d.name}; the DNS records list the active ones`);
    if (active.length === 1) throw new ApiError(409, `that is the only active DKIM key of ${d.name}; rotate first (POST /api/v1/domains/${d.name}/dkim/rotate), publish the new record, then retire this one`);
    dir.retireDkimKey(d.name, selector);
    log.info({ domain: d.name, selector }, 'admin: DKIM key retired');
    return c.body(null, 204);
  });

  // ---- accounts

  const requireAccount = (raw: string) => {
    const a = dir.getAccount(safeName('address', raw));
    if (!a) throw new ApiError(404, `no account ${raw}; list accounts with GET /api/v1/accounts`);
    return a;
  };

  app.get('/accounts', (c) => {
    const domain = c.req.query('domain');
    if (domain !== undefined) requireDomain(domain);
    const accounts = dir.listAccounts(domain || undefined).map((a) => ({
      address: a.address,
      createdAt: new Date(a.createdAt).toISOString(),
      quotaBytes: a.quotaBytes,
      usedBytes: store.usage(a),
      keyMode: a.keyMode,
    }));
    return c.json({ accounts });
  });

  app.post('/accounts', async (c) => {
    const body = parse(c, schemas.account);
    const { account, recoveryKey } = await store.createAccount(safeName('address', body.address), body.password, { quotaBytes: body.quotaBytes });
    log.info({ account: account.id }, 'admin: account created');
    return c.json({ address: account.address, recoveryKey }, 201);
  });

  app.patch('/accounts/:address', (c) => {
    const a = requireAccount(c.req.param('address'));
    const { quotaBytes } = parse(c, schemas.patchAccount);
    const updated = dir.updateAccount(a.id, { quotaBytes });
    return c.json({ address: updated.address, quotaBytes: updated.quotaBytes });
  });

  app.post('/accounts/:address/reset-password', async (c) => {
    const a = requireAccount(c.req.param('address'));
    const { password } = parse(c, schemas.reset);
    const r = await store.resetPassword(a.address, password);
    log.warn({ account: a.id, keptMail: r.keptMail }, 'admin: password reset');
    return c.json({ recoveryKey: r.recoveryKey ?? null, keptMail: r.keptMail, warning: resetWarning(a.address, r.keptMail) });
  });

  app.delete('/accounts/:address', (c) => {
    const a = requireAccount(c.req.param('address'));
    store.removeAccount(a.address);
    log.info({ account: a.id }, 'admin: account deleted');
    return c.body(null, 204);
  });

  // ---- app passwords

  app.get('/accounts/:address/app-passwords', (c) => {
    const a = requireAccount(c.req.param('address'));
    const list = store.listAppPasswords(a.address).map((p) => ({
      id: p.id,
      name: p.label,
      createdAt: new Date(p.createdAt).toISOString(),
      lastUsedAt: p.lastUsedAt === null ? null : new Date(p.lastUsedAt).toISOString(),
    }));
    return c.json({ appPasswords: list });
  });

  app.post('/accounts/:address/app-passwords', async (c) => {
    const a = requireAccount(c.req.param('address'));
    const { name, password } = parse(c, schemas.appPassword);
    if (MARKUP.test(name.replace(/ /g, ''))) throw new ApiError(400, 'an app password name may not contain quotes, angle brackets, backslashes or control characters; use a plain label like "phone"');
    const r = await store.addAppPassword(a.address, name, password);
    return c.json({ id: r.id, name, password: r.password }, 201);
  });

  app.delete('/accounts/:address/app-passwords/:id', (c) => {
    const a = requireAccount(c.req.param('address'));
    store.revokeAppPassword(a.address, c.req.param('id'));
    return c.body(null, 204);
  });

  // ---- aliases

  // ---- Sieve: the domain's scripts ("before" runs ahead of every account's own), an account's state

  app.get('/domains/:name/sieve', (c) => {
    const d = requireDomain(c.req.param('name'));
    return c.json({ scripts: dir.sieve.domainScripts(d.name).map((s) => ({ name: s.name, updatedAt: new Date(s.updatedAt).toISOString() })) });
  });

  app.get('/domains/:name/sieve/:script', (c) => {
    const d = requireDomain(c.req.param('name'));
    const source = dir.sieve.domainScript(d.name, c.req.param('script'));
    if (source === null) throw new ApiError(404, `no script "${c.req.param('script')}" for ${d.name}`);
    return c.json({ name: c.req.param('script'), source });
  });

  app.put('/domains/:name/sieve/:script', (c) => {
    const d = requireDomain(c.req.param('name'));
    const name = c.req.param('script');
    if (!isScriptName(name)) throw new ApiError(400, 'a script name is 1 to 128 characters with no control characters');
    const { source } = parse(c, schemas.sieve);
    try {
      compile(source);
    } catch (err) {
      if (err instanceof SieveSyntaxError) throw new ApiError(400, `the script does not compile: ${err.message}`);
      throw err;
    }
    dir.sieve.putDomainScript(d.name, name, source);
    log.info({ domain: d.name, script: name }, 'admin: domain Sieve script stored');
    return c.json({ name });
  });

  app.delete('/domains/:name/sieve/:script', (c) => {
    const d = requireDomain(c.req.param('name'));
    dir.sieve.removeDomainScript(d.name, c.req.param('script'));
    log.info({ domain: d.name, script: c.req.param('script') }, 'admin: domain Sieve script removed');
    return c.body(null, 204);
  });

  app.get('/accounts/:address/sieve', (c) => {
    const a = requireAccount(c.req.param('address'));
    const err = dir.sieve.lastError(a.id);
    return c.json({
      scripts: dir.sieve.list(a.id).map((s) => ({ name: s.name, active: s.active, updatedAt: new Date(s.updatedAt).toISOString() })),
      lastError: err ? { message: err.message, at: new Date(err.at).toISOString() } : null,
    });
  });

  app.get('/aliases', (c) => {
    const domain = c.req.query('domain');
    if (domain !== undefined) requireDomain(domain);
    return c.json({ aliases: dir.listAliases(domain || undefined).map((a) => ({ address: a.address, targets: a.targets })) });
  });

  app.post('/aliases', (c) => {
    const body = parse(c, schemas.alias);
    const alias = dir.addAlias(safeName('address', body.address), body.targets.map((t) => safeName('address', t)));
    return c.json({ address: alias.address, targets: alias.targets }, 201);
  });

  app.delete('/aliases/:address', (c) => {
    dir.removeAlias(safeName('address', c.req.param('address')));
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
