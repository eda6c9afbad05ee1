/**
 * @module node/admin/operations
 * Every administrative operation on a node, written once: the `haven` CLI
 * and the admin API call these, and nothing else changes domains,
 * accounts, aliases or app passwords. Each operation validates its input
 * (one schema, one password rule) and then calls the store.
 *
 * They run in the process that holds the data directory: inside the
 * running node (the CLI reaches it over the control socket, the admin API
 * is in-process), or inside the CLI itself when no node runs (it takes the
 * data directory's lock first). So there is one writer, and a database the
 * operation creates is registered with that writer's replicator: a write
 * operation reports success only once the replica holds what it committed
 * (`replicated: true`), or says it does not yet (`false`; it ships within
 * the usual lag once the replica answers).
 *
 * Inputs and outputs are plain JSON so they cross the control socket as-is.
 */
import { z } from 'zod';
import { dkimTxt } from '../dns/index.js';
import type { Account, Store } from '../store/index.js';
import { AccountExistsError, AliasExistsError, AuthFailedError, DomainExistsError, InvalidNameError, NotFoundError, normalizeAddress, validateDomainName } from '../store/index.js';
import { compile, isScriptName, SieveSyntaxError } from '../sieve/index.js';
import type { Logger } from '../util/log.js';
import { MAX_PASSWORD_LENGTH, passwordProblem } from './password-policy.js';

export interface OperationContext {
  store: Store;
  log: Logger;
  /** Resolves once everything committed so far is in the replica; absent when replication is off. */
  replicated?: (timeoutMs: number) => Promise<void>;
  /** Outbound queue depth (summary); absent where the queue is not loaded. */
  queueDepth?: () => { queued: number; oldestAt: number | null };
  /** Renews the node's certificate in this process (the running node: its own ACME client and challenge responder). */
  renewCertificate?: (force: boolean) => Promise<CertificateRenewal>;
}

/** `haven certs renew` as data, JSON all the way. */
export interface CertificateRenewal {
  result: 'issued' | 'current' | 'external';
  source: 'acme' | 'self-signed' | 'files';
  certFile: string;
  /** ISO time the certificate expires; null when unknown. */
  validTo: string | null;
  /** The names it covers, comma-separated. */
  names: string | null;
  answeredBy?: 'this-process' | 'running-node';
}

/** How long a write waits for the replica before answering `replicated: false`. */
const REPLICATION_WAIT_MS = 30_000;

// ---------------------------------------------------------------- validation

/** Names end up in HTML on the admin UI and in logs: markup and control characters are refused everywhere. */
const MARKUP = /[<>"`\\\u0000-\u001f\u007f\s]/;

const domainName = z
  .string()
  .min(1)
  .max(253)
  .refine((v) => !MARKUP.test(v), 'that is not a valid domain name: a domain name has only letters, digits, hyphens and dots (like example.org)')
  .transform((v, ctx) => {
    try {
      return validateDomainName(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const rawAddress = z
  .string()
  .min(1)
  .max(320)
  .refine((v) => !MARKUP.test(v.trim()), 'an address may not contain spaces, quotes, angle brackets, backslashes or control characters; type it as name@example.org');

const address = rawAddress.transform((v, ctx) => {
  try {
    return normalizeAddress(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** An alias may be a catch-all `*@domain`, which normalizeAddress refuses; the directory checks it. */
const aliasAddress = rawAddress.transform((v) => v.trim().toLowerCase());

const password = z.string().max(MAX_PASSWORD_LENGTH);
const newPassword = z.string().superRefine((v, ctx) => {
  const p = passwordProblem(v);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});
const label = z
  .string()
  .min(1)
  .max(100)
  .refine((v) => !MARKUP.test(v.replace(/ /g, '')), 'an app password label may not contain quotes, angle brackets, backslashes or control characters; use a plain label like "phone"');
const quota = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const none = z.object({}).strict();

const scriptName = z.string().refine(isScriptName, 'a script name is 1 to 128 characters with no control characters');
const absPath = z.string().min(1).max(4096).refine((v) => v.startsWith('/'), 'must be an absolute path (the node reads it)');
const transferSpec = z.union([
  z.object({
    kind: z.literal('import'),
    address,
    password,
    source: z.union([
      z.object({ type: z.literal('imap'), host: z.string().min(1).max(253), port: z.number().int().min(1).max(65535), secure: z.boolean(), user: z.string().min(1).max(320), password: z.string().max(1024), insecure: z.boolean().optional(), folders: z.array(z.string().max(1000)).max(1000).optional(), concurrency: z.number().int().min(1).max(16).optional() }),
      z.object({ type: z.literal('dav'), url: z.string().regex(/^https?:\/\/[^\s]+$/i, 'must be an http(s) URL').max(2048), user: z.string().min(1).max(320), password: z.string().max(1024), insecure: z.boolean().optional() }),
      z.object({ type: z.literal('path'), path: absPath, as: z.enum(['mbox', 'maildir', 'calendar', 'contacts', 'export']).optional(), into: z.string().min(1).max(512).optional(), variant: z.enum(['mboxrd', 'mboxo']).optional() }),
    ]),
    rate: z.number().min(0).max(1_000_000).optional(),
    batch: z.number().int().min(1).max(10_000).optional(),
  }),
  z.object({ kind: z.literal('export'), address, password, dir: absPath, format: z.enum(['maildir', 'mbox']) }),
]);

/** Bad input to an operation: names the field and what is wrong (CLI exit 1, API 400). */
export class InvalidInputError extends InvalidNameError {
  constructor(message: string, readonly field: string | null = null) {
    super(field ? `${field}: ${message}` : message);
  }
}

// ---------------------------------------------------------------- views

export interface AccountView {
  address: string;
  keyMode: Account['keyMode'];
  usedBytes: number;
  quotaBytes: number;
  pop3Keep: boolean;
  disabled: boolean;
  createdAt: string;
}

export interface DkimView {
  selector: string;
  algorithm: 'rsa' | 'ed25519';
  publicKeyDns: string;
  /** The TXT record to publish at <selector>._domainkey.<domain>. */
  txt: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

function accountView(store: Store, a: Account): AccountView {
  return { address: a.address, keyMode: a.keyMode, usedBytes: store.usage(a), quotaBytes: a.quotaBytes, pop3Keep: a.pop3Keep, disabled: a.disabled, createdAt: iso(a.createdAt) };
}

function dkimViews(store: Store, domain: string): DkimView[] {
  return store.directory.dkimKeys(domain).map((k) => ({
    selector: k.selector,
    algorithm: k.algorithm,
    publicKeyDns: k.publicKeyDns,
    txt: dkimTxt({ selector: k.selector, publicKey: k.publicKeyDns, algorithm: k.algorithm }),
  }));
}

function requireAccount(store: Store, addr: string): Account {
  const a = store.directory.getAccount(addr);
  if (!a) throw new NotFoundError(`no account ${addr}; see \`haven account list\``);
  return a;
}

function requireDomain(store: Store, name: string) {
  const d = store.directory.getDomain(name);
  if (!d) throw new NotFoundError(`no domain ${name}; see \`haven domain list\``);
  return d;
}

/** Waits for the replica after a write; `null` when there is no replica. */
async function shipped(ctx: OperationContext, what: string): Promise<boolean | null> {
  if (!ctx.replicated) return null;
  try {
    await ctx.replicated(REPLICATION_WAIT_MS);
    return true;
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, op: what }, 'admin: the change is saved but not in the replica yet; it ships once the replica answers');
    return false;
  }
}

// ---------------------------------------------------------------- the table

interface Operation<S extends z.ZodTypeAny, O> {
  /** Changes state (logged, and waits for the replica). */
  write: boolean;
  input: S;
  run(ctx: OperationContext, input: z.output<S>): Promise<O> | O;
}

const op = <S extends z.ZodTypeAny, O>(o: Operation<S, O>): Operation<S, O> => o;

export const OPERATIONS = {
  // ---- domains
  'domain.list': op({
    write: false,
    input: none,
    run: ({ store }) =>
      store.directory.listDomains().map((d) => ({
        name: d.name,
        createdAt: iso(d.createdAt),
        accounts: store.directory.listAccounts(d.name).length,
        aliases: store.directory.listAliases(d.name).length,
        dkim: dkimViews(store, d.name),
      })),
  }),
  'domain.get': op({
    write: false,
    input: z.object({ name: domainName }),
    run: ({ store }, { name }) => {
      const d = store.directory.getDomain(name);
      return d ? { name: d.name, createdAt: iso(d.createdAt), dkim: dkimViews(store, d.name) } : null;
    },
  }),
  'domain.add': op({
    write: true,
    input: z.object({ name: domainName, ifMissing: z.boolean().optional() }),
    run: async (ctx, { name, ifMissing }) => {
      const { store } = ctx;
      const existing = store.directory.getDomain(name);
      if (existing && !ifMissing) throw new DomainExistsError(`domain ${name} already exists; see \`haven domain list\``);
      const d = existing ?? store.directory.addDomain(name);
      return { name: d.name, created: !existing, createdAt: iso(d.createdAt), dkim: dkimViews(store, d.name), replicated: await shipped(ctx, 'domain.add') };
    },
  }),
  'domain.remove': op({
    write: true,
    input: z.object({ name: domainName }),
    run: async (ctx, { name }) => {
      const d = requireDomain(ctx.store, name);
      const accounts = ctx.store.directory.listAccounts(d.name).length;
      if (accounts > 0) throw new AccountExistsError(`domain ${d.name} still has ${accounts} account(s); remove them first`);
      // Aliases belong to the domain and go with it (the schema cascades).
      const aliases = ctx.store.directory.listAliases(d.name).length;
      ctx.store.directory.removeDomain(d.name);
      return { name: d.name, aliasesRemoved: aliases, replicated: await shipped(ctx, 'domain.remove') };
    },
  }),
  'dkim.rotate': op({
    write: true,
    input: z.object({ domain: domainName }),
    run: async (ctx, { domain }) => {
      const d = requireDomain(ctx.store, domain);
      // A selector per rotation (the directory's default is per month, which a second rotation would reuse).
      const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
      for (let i = 0; ; i++) {
        try {
          const k = ctx.store.directory.addDkimKey(d.name, 'rsa', `haven${stamp}${i ? `-${i}` : ''}`);
          return {
            selector: k.selector,
            record: { type: 'TXT' as const, name: `${k.selector}._domainkey.${d.name}`, value: dkimTxt({ selector: k.selector, publicKey: k.publicKeyDns, algorithm: k.algorithm }) },
            replicated: await shipped(ctx, 'dkim.rotate'),
          };
        } catch (err) {
          if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE' || i >= 5) throw err;
        }
      }
    },
  }),
  'dkim.retire': op({
    write: true,
    input: z.object({ domain: domainName, selector: z.string().min(1).max(63) }),
    run: async (ctx, { domain, selector }) => {
      const d = requireDomain(ctx.store, domain);
      const active = ctx.store.directory.dkimKeys(d.name);
      if (!active.some((k) => k.selector === selector)) throw new NotFoundError(`no active DKIM key with that selector for ${d.name}; the DNS records list the active ones`);
      if (active.length === 1) throw new AccountExistsError(`that is the only active DKIM key of ${d.name}; rotate first, publish the new record, then retire this one`);
      ctx.store.directory.retireDkimKey(d.name, selector);
      return { replicated: await shipped(ctx, 'dkim.retire') };
    },
  }),

  // ---- accounts
  'account.list': op({
    write: false,
    input: z.object({ domain: domainName.optional() }),
    run: ({ store }, { domain }) => {
      if (domain !== undefined) requireDomain(store, domain);
      return store.directory.listAccounts(domain).map((a) => accountView(store, a));
    },
  }),
  'account.get': op({
    write: false,
    input: z.object({ address }),
    run: ({ store }, { address }) => {
      const a = store.directory.getAccount(address);
      return a ? accountView(store, a) : null;
    },
  }),
  'account.add': op({
    write: true,
    input: z.object({ address, password: newPassword, displayName: z.string().max(200).optional(), quotaBytes: quota.optional(), managed: z.boolean().optional() }),
    run: async (ctx, i) => {
      const { store } = ctx;
      if (store.directory.getAccount(i.address)) throw new AccountExistsError(`account ${i.address} already exists; see \`haven account list\``);
      // Before createAccount: a refused address must not cost a key derivation or a file.
      const domain = i.address.slice(i.address.lastIndexOf('@') + 1);
      if (!store.directory.getDomain(domain)) throw new NotFoundError(`no domain ${domain}; add it first with \`haven domain add ${domain}\``);
      const { account, recoveryKey } = await store.createAccount(i.address, i.password, { displayName: i.displayName, quotaBytes: i.quotaBytes, keyMode: i.managed ? 'managed' : undefined });
      return { address: account.address, keyMode: account.keyMode, recoveryKey, replicated: await shipped(ctx, 'account.add') };
    },
  }),
  'account.passwd': op({
    write: true,
    input: z.union([z.object({ address, currentPassword: password, password: newPassword }), z.object({ address, recoveryKey: z.string().min(1).max(200), password: newPassword })]),
    run: async (ctx, i) => {
      requireAccount(ctx.store, i.address);
      const byRecovery = 'recoveryKey' in i;
      try {
        await ctx.store.changePassword(i.address, byRecovery ? { recoveryKey: i.recoveryKey } : { password: i.currentPassword }, i.password);
      } catch (err) {
        if (err instanceof AuthFailedError) throw new AuthFailedError(`the ${byRecovery ? 'recovery key' : 'current password'} for ${i.address} is wrong; nothing was changed`);
        throw err;
      }
      return { address: i.address, replicated: await shipped(ctx, 'account.passwd') };
    },
  }),
  'account.reset': op({
    write: true,
    input: z.object({ address, password: newPassword }),
    run: async (ctx, i) => {
      requireAccount(ctx.store, i.address);
      const r = await ctx.store.resetPassword(i.address, i.password);
      return { address: i.address, keptMail: r.keptMail, recoveryKey: r.recoveryKey ?? null, setAside: r.setAside ?? null, replicated: await shipped(ctx, 'account.reset') };
    },
  }),
  'account.remove': op({
    write: true,
    input: z.object({ address }),
    run: async (ctx, { address }) => {
      requireAccount(ctx.store, address);
      ctx.store.removeAccount(address);
      return { address, replicated: await shipped(ctx, 'account.remove') };
    },
  }),
  'account.set': op({
    write: true,
    input: z.object({ address, quotaBytes: quota.optional(), pop3Keep: z.boolean().optional() }),
    run: async (ctx, i) => {
      const a = requireAccount(ctx.store, i.address);
      if (i.quotaBytes === undefined && i.pop3Keep === undefined) throw new InvalidInputError('nothing to change; give a quota or what POP3 deletion does');
      const u = ctx.store.directory.updateAccount(a.id, { quotaBytes: i.quotaBytes, pop3Keep: i.pop3Keep });
      return { ...accountView(ctx.store, u), replicated: await shipped(ctx, 'account.set') };
    },
  }),

  // ---- app passwords
  'app-password.list': op({
    write: false,
    input: z.object({ address }),
    run: ({ store }, { address }) =>
      store.listAppPasswords(address).map((p) => ({ id: p.id, label: p.label, createdAt: iso(p.createdAt), lastUsedAt: p.lastUsedAt === null ? null : iso(p.lastUsedAt) })),
  }),
  'app-password.add': op({
    write: true,
    input: z.object({ address, label: label.default('app'), password }),
    run: async (ctx, i) => {
      requireAccount(ctx.store, i.address);
      let created;
      try {
        created = await ctx.store.addAppPassword(i.address, i.label, i.password);
      } catch (err) {
        if (err instanceof AuthFailedError) throw new AuthFailedError(`the password for ${i.address} is wrong; no app password was made`);
        throw err;
      }
      return { id: created.id, label: i.label, password: created.password, replicated: await shipped(ctx, 'app-password.add') };
    },
  }),
  'app-password.revoke': op({
    write: true,
    input: z.object({ address, id: z.string().min(1).max(64) }),
    run: async (ctx, i) => {
      ctx.store.revokeAppPassword(i.address, i.id);
      return { replicated: await shipped(ctx, 'app-password.revoke') };
    },
  }),

  // ---- aliases
  'alias.list': op({
    write: false,
    input: z.object({ domain: domainName.optional() }),
    run: ({ store }, { domain }) => {
      if (domain !== undefined) requireDomain(store, domain);
      return store.directory.listAliases(domain).map((a) => ({ address: a.address, targets: a.targets }));
    },
  }),
  'alias.add': op({
    write: true,
    input: z.object({ address: aliasAddress, targets: z.array(address).min(1).max(100) }),
    run: async (ctx, i) => {
      const { store } = ctx;
      if (store.directory.listAliases().some((a) => a.address === i.address)) {
        throw new AliasExistsError(`alias ${i.address} already exists; remove it first (\`haven alias remove ${i.address}\`) to change its targets`);
      }
      const alias = store.directory.addAlias(i.address, i.targets);
      const local = new Set(store.directory.listAccounts().map((a) => a.address));
      return { address: alias.address, targets: alias.targets, forwarded: alias.targets.filter((t) => !local.has(t)), replicated: await shipped(ctx, 'alias.add') };
    },
  }),
  'alias.remove': op({
    write: true,
    input: z.object({ address: aliasAddress }),
    run: async (ctx, { address }) => {
      ctx.store.directory.removeAlias(address);
      return { address, replicated: await shipped(ctx, 'alias.remove') };
    },
  }),

  // ---- Sieve: a domain's scripts ("before" runs ahead of every account's own; others serve include :global)
  'sieve.domain.list': op({
    write: false,
    input: z.object({ domain: domainName }),
    run: ({ store }, { domain }) => {
      requireDomain(store, domain);
      return store.directory.sieve.domainScripts(domain).map((s) => ({ name: s.name, updatedAt: iso(s.updatedAt) }));
    },
  }),
  'sieve.domain.get': op({
    write: false,
    input: z.object({ domain: domainName, name: scriptName }),
    run: ({ store }, { domain, name }) => {
      requireDomain(store, domain);
      const source = store.directory.sieve.domainScript(domain, name);
      if (source === null) throw new NotFoundError(`no script "${name}" for ${domain}; see \`haven sieve domain-list ${domain}\``);
      return { name, source };
    },
  }),
  'sieve.domain.put': op({
    write: true,
    input: z.object({ domain: domainName, name: scriptName, source: z.string().max(64 * 1024) }),
    run: async (ctx, i) => {
      requireDomain(ctx.store, i.domain);
      try {
        compile(i.source);
      } catch (err) {
        if (err instanceof SieveSyntaxError) throw new InvalidInputError(`the script does not compile: ${err.message}; fix it and store it again`);
        throw err;
      }
      ctx.store.directory.sieve.putDomainScript(i.domain, i.name, i.source);
      return { domain: i.domain, name: i.name, replicated: await shipped(ctx, 'sieve.domain.put') };
    },
  }),
  'sieve.domain.remove': op({
    write: true,
    input: z.object({ domain: domainName, name: scriptName }),
    run: async (ctx, i) => {
      requireDomain(ctx.store, i.domain);
      ctx.store.directory.sieve.removeDomainScript(i.domain, i.name);
      return { domain: i.domain, name: i.name, replicated: await shipped(ctx, 'sieve.domain.remove') };
    },
  }),
  'sieve.status': op({
    write: false,
    input: z.object({ address }),
    run: ({ store }, { address }) => {
      const a = requireAccount(store, address);
      const err = store.directory.sieve.lastError(a.id);
      return {
        scripts: store.directory.sieve.list(a.id).map((s) => ({ name: s.name, active: s.active, updatedAt: iso(s.updatedAt) })),
        lastError: err ? { message: err.message, at: iso(err.at) } : null,
      };
    },
  }),

  // ---- import and export (node/transfer): jobs of this process, read by id while they run
  'transfer.start': op({
    write: true,
    input: transferSpec,
    run: async ({ store }, spec) => (await import('../transfer/index.js')).startJob(store, spec),
  }),
  'transfer.status': op({
    write: false,
    input: z.object({ id: z.string().min(1).max(64) }),
    run: async ({ store }, { id }) => (await import('../transfer/index.js')).jobStatus(store, id),
  }),
  'transfer.list': op({
    write: false,
    input: none,
    run: async ({ store }) => (await import('../transfer/index.js')).listJobs(store),
  }),
  'transfer.cancel': op({
    write: true,
    input: z.object({ id: z.string().min(1).max(64) }),
    run: async ({ store }, { id }) => (await import('../transfer/index.js')).cancelJob(store, id),
  }),

  // ---- the node as a whole
  'certs.renew': op({
    write: true,
    input: z.object({ force: z.boolean().optional() }),
    run: async (ctx, { force }) => {
      if (!ctx.renewCertificate) throw new InvalidInputError('this process cannot renew the certificate; run `haven certs renew` on the node');
      return ctx.renewCertificate(force === true);
    },
  }),
  summary: op({
    write: false,
    input: none,
    run: ({ store, queueDepth }) => ({
      domains: store.directory.listDomains().length,
      accounts: store.directory.listAccounts().length,
      aliases: store.directory.listAliases().length,
      queue: queueDepth?.() ?? null,
    }),
  }),
} as const;

export type OperationName = keyof typeof OPERATIONS;
export type OperationInput<K extends OperationName> = z.input<(typeof OPERATIONS)[K]['input']>;
export type OperationOutput<K extends OperationName> = Awaited<ReturnType<(typeof OPERATIONS)[K]['run']>>;

/** What the CLI and the admin API hold: the same call, in-process or over the control socket. */
export interface Operations {
  call<K extends OperationName>(name: K, input: OperationInput<K>): Promise<OperationOutput<K>>;
  /** Where the operations run: `node` (the running node, over its control socket) or `local` (this process holds the lock). */
  readonly where: 'node' | 'local';
}

export function isOperationName(name: unknown): name is OperationName {
  return typeof name === 'string' && Object.hasOwn(OPERATIONS, name);
}

/**
 * Validates and runs one operation here. Logs every write (never a secret:
 * only the operation's name and how long it took), so a running node's log
 * shows each change the CLI asked it to make.
 */
export async function runOperation<K extends OperationName>(ctx: OperationContext, name: K, input: unknown, via: 'cli' | 'api' | 'local'): Promise<OperationOutput<K>> {
  const o = OPERATIONS[name] as unknown as Operation<z.ZodTypeAny, OperationOutput<K>>;
  const parsed = o.input.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
    throw new InvalidInputError(missing ? 'is required' : issue.message, issue.path.join('.') || null);
  }
  const started = performance.now();
  const out = await o.run(ctx, parsed.data);
  if (o.write) ctx.log.info({ op: name, via, ms: Math.round(performance.now() - started) }, 'admin: operation done');
  return out;
}

export function localOperations(ctx: OperationContext, via: 'api' | 'local' = 'local'): Operations {
  return { where: 'local', call: (name, input) => runOperation(ctx, name, input, via) };
}
