/**
 * @module node/store/directory/directory
 * Domains, accounts, aliases, app-password records and DKIM keys: every SQL
 * statement against the directory database except the outbound queue's.
 * Knows nothing of key derivation; the account service passes wrapped keys in.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { WrappedKey, WrapKind } from '../../crypto/index.js';
import { write, type Db } from '../db.js';
import {
  AccountExistsError,
  AliasExistsError,
  DomainExistsError,
  InvalidNameError,
  NotFoundError,
  translateSqliteError,
} from '../errors.js';
import { normalizeAddress, splitAddress, validateDomainName } from '../address.js';
import { SieveRepo } from './sieve.js';
import { ReadCache } from './read-cache.js';

export interface Domain {
  id: number;
  name: string;
  createdAt: number;
}

export interface Account {
  id: string;
  address: string;
  domain: string;
  displayName: string | null;
  keyMode: 'zero-access' | 'managed';
  boxPublic: Buffer;
  boxPrivateSealed: Buffer;
  quotaBytes: number;
  usedBytes: number;
  pop3Keep: boolean;
  disabled: boolean;
  createdAt: number;
  passwordChangedAt: number;
}

export interface KeyWrapRecord {
  id: string;
  accountId: string;
  kind: WrapKind;
  label: string | null;
  wrapped: WrappedKey;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface Alias {
  id: number;
  address: string;
  targets: string[];
  createdAt: number;
}

export interface DkimKey {
  id: number;
  domain: string;
  selector: string;
  algorithm: 'rsa' | 'ed25519';
  privateKeyPem: string;
  /** The p= value for the DNS TXT record (base64 of the SubjectPublicKeyInfo DER for RSA, raw key for Ed25519). */
  publicKeyDns: string;
  active: boolean;
  createdAt: number;
}

/** Where mail for one address goes. */
export type Route =
  | { kind: 'account'; account: Account; /** the +tag, if any */ tag: string | null }
  | { kind: 'alias'; alias: Alias };

type Row = Record<string, unknown>;

function toAccount(r: Row): Account {
  return {
    id: r.id as string,
    address: r.address as string,
    domain: r.domain as string,
    displayName: (r.display_name as string) ?? null,
    keyMode: r.key_mode as Account['keyMode'],
    boxPublic: r.box_public as Buffer,
    boxPrivateSealed: r.box_private as Buffer,
    quotaBytes: r.quota_bytes as number,
    usedBytes: r.used_bytes as number,
    pop3Keep: r.pop3_keep === 1,
    disabled: r.disabled === 1,
    createdAt: r.created_at as number,
    passwordChangedAt: r.password_changed_at as number,
  };
}

function toAlias(r: Row): Alias {
  return { id: r.id as number, address: r.address as string, targets: JSON.parse(r.targets as string), createdAt: r.created_at as number };
}

function toDkim(r: Row): DkimKey {
  return {
    id: r.id as number,
    domain: r.domain as string,
    selector: r.selector as string,
    algorithm: r.algorithm as DkimKey['algorithm'],
    privateKeyPem: r.private_key as string,
    publicKeyDns: r.public_key as string,
    active: r.active === 1,
    createdAt: r.created_at as number,
  };
}

function toWrap(r: Row): KeyWrapRecord {
  return {
    id: r.id as string,
    accountId: r.account_id as string,
    kind: r.kind as WrapKind,
    label: (r.label as string) ?? null,
    wrapped: JSON.parse(r.wrapped as string),
    createdAt: r.created_at as number,
    lastUsedAt: (r.last_used_at as number) ?? null,
  };
}

const ACCOUNT_SELECT = `SELECT a.*, d.name AS domain FROM accounts a JOIN domains d ON d.id = a.domain_id`;

export function makeDkimKey(algorithm: 'rsa' | 'ed25519'): { privateKeyPem: string; publicKeyDns: string } {
  if (algorithm === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return {
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      publicKeyDns: (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64'),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
  // RFC 8463: the DNS record carries the raw 32-byte key, the tail of the SPKI.
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, publicKeyDns: spki.subarray(spki.length - 32).toString('base64') };
}

export class Directory {
  private readonly s;
  /** Sieve scripts and filtering memory. */
  readonly sieve: SieveRepo;
  /** Rows read per RCPT and per delivery; emptied by any change to the database (read-cache.ts). */
  private readonly cache: ReadCache;

  constructor(
    readonly path: string,
    readonly db: Db,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.cache = new ReadCache(db);
    this.sieve = new SieveRepo(path, db, this.cache);
    this.s = {
      domainByName: p('SELECT * FROM domains WHERE name = ?'),
      domains: p('SELECT * FROM domains ORDER BY name'),
      insertDomain: p('INSERT INTO domains(name, created_at) VALUES (?, ?)'),
      accountByAddress: p(`${ACCOUNT_SELECT} WHERE a.address = ?`),
      accountById: p(`${ACCOUNT_SELECT} WHERE a.id = ?`),
      accounts: p(`${ACCOUNT_SELECT} ORDER BY a.address`),
      accountsInDomain: p(`${ACCOUNT_SELECT} WHERE d.name = ? ORDER BY a.address`),
      aliasByAddress: p('SELECT * FROM aliases WHERE address = ?'),
      wrapsFor: p('SELECT * FROM key_wraps WHERE account_id = ? ORDER BY created_at'),
      addUsage: p('UPDATE accounts SET used_bytes = max(0, used_bytes + ?) WHERE id = ?'),
      setUsage: p('UPDATE accounts SET used_bytes = ? WHERE id = ?'),
      touchWrap: p('UPDATE key_wraps SET last_used_at = ? WHERE id = ?'),
      activeDkim: p(`SELECT k.*, d.name AS domain FROM dkim_keys k JOIN domains d ON d.id = k.domain_id WHERE d.name = ? AND k.active = 1 ORDER BY k.created_at DESC`),
    };
  }

  /**
   * Bumped by every write that can change who may sign in as whom (accounts,
   * their wraps, domains): the store's warm-login cache holds entries only
   * for the generation they were made in. Usage and last-used stamps do not
   * count. The node is the only writer, so every such write passes here.
   */
  private generation = 0;
  get accountGeneration(): number {
    return this.generation;
  }

  /** A write to accounts or wraps: counts as a new generation even if it fails half-way. */
  private wa<T>(fn: () => T): T {
    this.generation++;
    try {
      return this.w(fn);
    } finally {
      this.generation++;
    }
  }

  private w<T>(fn: () => T): T {
    try {
      return write(this.path, this.db, fn);
    } catch (err) {
      translateSqliteError(err, this.path);
    }
  }

  getSetting(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as Row | undefined;
    return (r?.value as string) ?? null;
  }

  setSetting(key: string, value: string): void {
    this.w(() => this.db.prepare('INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value));
  }

  // ---- domains

  addDomain(name: string, opts: { dkimSelector?: string } = {}): Domain {
    const domain = validateDomainName(name);
    const rsa = makeDkimKey('rsa');
    return this.w(() => {
      if (this.s.domainByName.get(domain)) throw new DomainExistsError(`domain ${domain} already exists`);
      const now = Date.now();
      const id = Number(this.s.insertDomain.run(domain, now).lastInsertRowid);
      this.db
        .prepare('INSERT INTO dkim_keys(domain_id, selector, algorithm, private_key, public_key, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)')
        .run(id, opts.dkimSelector ?? defaultSelector(now), 'rsa', rsa.privateKeyPem, rsa.publicKeyDns, now);
      return { id, name: domain, createdAt: now };
    });
  }

  getDomain(name: string): Domain | null {
    const domain = name.toLowerCase();
    return this.cache.get('domain', domain, () => {
      const r = this.s.domainByName.get(domain) as Row | undefined;
      return r ? Object.freeze({ id: r.id as number, name: r.name as string, createdAt: r.created_at as number }) : null;
    });
  }

  listDomains(): Domain[] {
    return (this.s.domains.all() as Row[]).map((r) => ({ id: r.id as number, name: r.name as string, createdAt: r.created_at as number }));
  }

  removeDomain(name: string): void {
    this.wa(() => {
      const d = this.getDomain(name);
      if (!d) throw new NotFoundError(`no domain ${name}; see \`haven domain list\``);
      const n = (this.db.prepare('SELECT count(*) AS n FROM accounts WHERE domain_id = ?').get(d.id) as Row).n as number;
      if (n > 0) throw new InvalidNameError(`domain ${d.name} still has ${n} account(s); remove them first`);
      this.db.prepare('DELETE FROM domains WHERE id = ?').run(d.id);
    });
  }

  // ---- DKIM

  dkimKeys(domain: string): DkimKey[] {
    return (this.s.activeDkim.all(domain.toLowerCase()) as Row[]).map(toDkim);
  }

  /** Adds a new key (rotation); the old one stays active until retired so DNS can catch up. */
  addDkimKey(domain: string, algorithm: 'rsa' | 'ed25519', selector?: string): DkimKey {
    const d = this.requireDomain(domain);
    const k = makeDkimKey(algorithm);
    const now = Date.now();
    const sel = selector ?? `${defaultSelector(now)}${algorithm === 'ed25519' ? 'e' : ''}`;
    this.w(() =>
      this.db
        .prepare('INSERT INTO dkim_keys(domain_id, selector, algorithm, private_key, public_key, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)')
        .run(d.id, sel, algorithm, k.privateKeyPem, k.publicKeyDns, now),
    );
    return this.dkimKeys(domain).find((x) => x.selector === sel)!;
  }

  /**
   * Installs a DKIM key made elsewhere (the infra keeps one per domain in its
   * state, publishes its DNS record, and hands the private key to the node):
   * the key under `selector` becomes this one, active and newest, so it signs
   * and is the key the DNS records list. Idempotent.
   */
  importDkimKey(domain: string, selector: string, privateKeyPem: string): DkimKey {
    const d = this.requireDomain(domain);
    const key = createPrivateKey(privateKeyPem);
    const algorithm = key.asymmetricKeyType === 'rsa' ? 'rsa' : key.asymmetricKeyType === 'ed25519' ? 'ed25519' : null;
    if (!algorithm) throw new Error(`the DKIM key for ${domain} is ${key.asymmetricKeyType}; use RSA or Ed25519`);
    const pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' }) as Buffer;
    const publicKeyDns = (algorithm === 'rsa' ? spki : spki.subarray(spki.length - 32)).toString('base64');
    const current = this.db.prepare('SELECT private_key, active FROM dkim_keys WHERE domain_id = ? AND selector = ?').get(d.id, selector) as Row | undefined;
    if (!current || current.private_key !== pem || !current.active) {
      this.w(() =>
        this.db
          .prepare(
            'INSERT INTO dkim_keys(domain_id, selector, algorithm, private_key, public_key, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?) ' +
              'ON CONFLICT(domain_id, selector) DO UPDATE SET algorithm = excluded.algorithm, private_key = excluded.private_key, public_key = excluded.public_key, active = 1, created_at = excluded.created_at',
          )
          .run(d.id, selector, algorithm, pem, publicKeyDns, Date.now()),
      );
    }
    return this.dkimKeys(domain).find((k) => k.selector === selector)!;
  }

  retireDkimKey(domain: string, selector: string): void {
    const d = this.requireDomain(domain);
    this.w(() => this.db.prepare('UPDATE dkim_keys SET active = 0 WHERE domain_id = ? AND selector = ?').run(d.id, selector));
  }

  private requireDomain(name: string): Domain {
    const d = this.getDomain(name);
    if (!d) throw new NotFoundError(`no domain ${name}; add it with \`haven domain add ${name}\``);
    return d;
  }

  // ---- accounts

  insertAccount(a: {
    id: string;
    address: string;
    displayName?: string | null;
    keyMode: Account['keyMode'];
    boxPublic: Buffer;
    boxPrivateSealed: Buffer;
    quotaBytes?: number;
    wraps: { id: string; kind: WrapKind; label?: string | null; wrapped: WrappedKey }[];
  }): Account {
    const address = normalizeAddress(a.address);
    const { domain } = splitAddress(address);
    return this.wa(() => {
      const d = this.getDomain(domain);
      if (!d) throw new NotFoundError(`no domain ${domain}; add it first with \`haven domain add ${domain}\``);
      if (this.s.accountByAddress.get(address)) throw new AccountExistsError(`account ${address} already exists`);
      if (this.s.aliasByAddress.get(address)) throw new AccountExistsError(`${address} is already an alias; remove the alias first`);
      const now = Date.now();
      this.db
        .prepare(
          `INSERT INTO accounts(id, address, domain_id, display_name, key_mode, box_public, box_private, quota_bytes, created_at, password_changed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(a.id, address, d.id, a.displayName ?? null, a.keyMode, a.boxPublic, a.boxPrivateSealed, a.quotaBytes ?? 0, now, now);
      for (const w of a.wraps) this.insertWrapRow(a.id, w, now);
      return toAccount(this.s.accountById.get(a.id) as Row);
    });
  }

  private insertWrapRow(accountId: string, w: { id: string; kind: WrapKind; label?: string | null; wrapped: WrappedKey }, now: number): void {
    this.db
      .prepare('INSERT INTO key_wraps(id, account_id, kind, label, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(w.id, accountId, w.kind, w.label ?? null, JSON.stringify(w.wrapped), now);
  }

  getAccount(address: string): Account | null {
    return this.accountRow(address.trim().toLowerCase());
  }

  getAccountById(id: string): Account | null {
    return this.cache.get('account-id', id, () => {
      const r = this.s.accountById.get(id) as Row | undefined;
      return r ? Object.freeze(toAccount(r)) : null;
    });
  }

  /** The account with exactly this (normalised) address. */
  private accountRow(address: string): Account | null {
    return this.cache.get('account', address, () => {
      const r = this.s.accountByAddress.get(address) as Row | undefined;
      return r ? Object.freeze(toAccount(r)) : null;
    });
  }

  /** The alias with exactly this (normalised) address, or the catch-all `*@domain`. */
  private aliasRow(address: string): Alias | null {
    return this.cache.get('alias', address, () => {
      const r = this.s.aliasByAddress.get(address) as Row | undefined;
      if (!r) return null;
      const a = toAlias(r);
      Object.freeze(a.targets);
      return Object.freeze(a);
    });
  }

  listAccounts(domain?: string): Account[] {
    return ((domain ? this.s.accountsInDomain.all(domain.toLowerCase()) : this.s.accounts.all()) as Row[]).map(toAccount);
  }

  removeAccount(id: string): void {
    this.wa(() => this.db.prepare('DELETE FROM accounts WHERE id = ?').run(id));
  }

  updateAccount(id: string, patch: { quotaBytes?: number; displayName?: string | null; pop3Keep?: boolean; disabled?: boolean }): Account {
    this.wa(() => {
      if (patch.quotaBytes !== undefined) this.db.prepare('UPDATE accounts SET quota_bytes = ? WHERE id = ?').run(patch.quotaBytes, id);
      if (patch.displayName !== undefined) this.db.prepare('UPDATE accounts SET display_name = ? WHERE id = ?').run(patch.displayName, id);
      if (patch.pop3Keep !== undefined) this.db.prepare('UPDATE accounts SET pop3_keep = ? WHERE id = ?').run(patch.pop3Keep ? 1 : 0, id);
      if (patch.disabled !== undefined) this.db.prepare('UPDATE accounts SET disabled = ? WHERE id = ?').run(patch.disabled ? 1 : 0, id);
    });
    const a = this.getAccountById(id);
    if (!a) throw new NotFoundError(`no account with id ${id}`);
    return a;
  }

  /** Replaces the wraps of the given kinds in one transaction (password change, reset). */
  replaceWraps(
    accountId: string,
    kinds: WrapKind[],
    wraps: { id: string; kind: WrapKind; label?: string | null; wrapped: WrappedKey }[],
    extra?: { boxPublic: Buffer; boxPrivateSealed: Buffer },
  ): void {
    this.wa(() => {
      const now = Date.now();
      for (const k of kinds) this.db.prepare('DELETE FROM key_wraps WHERE account_id = ? AND kind = ?').run(accountId, k);
      for (const w of wraps) this.insertWrapRow(accountId, w, now);
      this.db.prepare('UPDATE accounts SET password_changed_at = ? WHERE id = ?').run(now, accountId);
      if (extra) this.db.prepare('UPDATE accounts SET box_public = ?, box_private = ?, used_bytes = 0 WHERE id = ?').run(extra.boxPublic, extra.boxPrivateSealed, accountId);
    });
  }

  addWrap(accountId: string, w: { id: string; kind: WrapKind; label?: string | null; wrapped: WrappedKey }): void {
    this.wa(() => this.insertWrapRow(accountId, w, Date.now()));
  }

  wraps(accountId: string): KeyWrapRecord[] {
    return (this.s.wrapsFor.all(accountId) as Row[]).map(toWrap);
  }

  removeWrap(accountId: string, wrapId: string): boolean {
    return this.wa(() => this.db.prepare("DELETE FROM key_wraps WHERE account_id = ? AND id = ? AND kind = 'app'").run(accountId, wrapId).changes > 0);
  }

  touchWrap(wrapId: string): void {
    // Last-used is informational; it does not need its own fsync'd transaction per login.
    this.s.touchWrap.run(Date.now(), wrapId);
  }

  addUsage(accountId: string, delta: number): void {
    this.w(() => this.s.addUsage.run(delta, accountId));
  }

  setUsage(accountId: string, bytes: number): void {
    this.w(() => this.s.setUsage.run(bytes, accountId));
  }

  // ---- aliases

  addAlias(address: string, targets: string[]): Alias {
    const addr = address.trim().toLowerCase();
    const { local, domain } = splitAddress(addr, { allowWildcard: true });
    if (targets.length === 0) throw new InvalidNameError('an alias needs at least one target address');
    const norm = targets.map((t) => normalizeAddress(t));
    return this.w(() => {
      const d = this.getDomain(domain);
      if (!d) throw new NotFoundError(`no domain ${domain}; add it first with \`haven domain add ${domain}\``);
      if (local !== '*' && this.s.accountByAddress.get(addr)) throw new AliasExistsError(`${addr} is an account; an alias cannot shadow it`);
      if (this.s.aliasByAddress.get(addr)) throw new AliasExistsError(`alias ${addr} already exists`);
      const now = Date.now();
      const id = Number(this.db.prepare('INSERT INTO aliases(address, domain_id, targets, created_at) VALUES (?, ?, ?, ?)').run(addr, d.id, JSON.stringify(norm), now).lastInsertRowid);
      return { id, address: addr, targets: norm, createdAt: now };
    });
  }

  listAliases(domain?: string): Alias[] {
    const rows = domain
      ? this.db.prepare('SELECT a.* FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = ? ORDER BY a.address').all(domain.toLowerCase())
      : this.db.prepare('SELECT * FROM aliases ORDER BY address').all();
    return (rows as Row[]).map(toAlias);
  }

  removeAlias(address: string): void {
    this.w(() => {
      if (this.db.prepare('DELETE FROM aliases WHERE address = ?').run(address.trim().toLowerCase()).changes === 0) {
        throw new NotFoundError(`no alias ${address}; see \`haven alias list\``);
      }
    });
  }

  /**
   * Resolves one recipient address: an exact account, an exact alias, the
   * account for a plus-address (user+tag@domain), then the domain's catch-all.
   * Returns null for a domain we host with no match, undefined when we do not
   * host the domain at all (the caller must not relay).
   */
  resolve(address: string): Route | null | undefined {
    let parts;
    try {
      parts = splitAddress(address.trim().toLowerCase());
    } catch {
      return undefined;
    }
    if (!this.getDomain(parts.domain)) return undefined;
    const full = `${parts.local}@${parts.domain}`;
    const acct = this.accountRow(full);
    if (acct) return { kind: 'account', account: acct, tag: null };
    const alias = this.aliasRow(full);
    if (alias) return { kind: 'alias', alias };
    const plus = parts.local.indexOf('+');
    if (plus > 0) {
      const base = `${parts.local.slice(0, plus)}@${parts.domain}`;
      const a2 = this.accountRow(base);
      if (a2) return { kind: 'account', account: a2, tag: parts.local.slice(plus + 1) };
      const al2 = this.aliasRow(base);
      if (al2) return { kind: 'alias', alias: al2 };
    }
    const catchAll = this.aliasRow(`*@${parts.domain}`);
    if (catchAll) return { kind: 'alias', alias: catchAll };
    return null;
  }

  /** Whether an account may send as this address (its own, a plus form, or an alias that targets it). */
  ownsAddress(accountId: string, address: string): boolean {
    const route = this.resolve(address);
    if (!route) return false;
    if (route.kind === 'account') return route.account.id === accountId;
    const acct = this.getAccountById(accountId);
    return !!acct && route.alias.address !== `*@${acct.domain}` && route.alias.targets.includes(acct.address);
  }
}

function defaultSelector(now: number): string {
  const d = new Date(now);
  return `haven${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}
