/**
 * @module node/store/store
 * The store's front door: the directory, the sealed spool and the cache of
 * unlocked mailboxes (kept, with its bounds, by open-mailboxes.ts). With that
 * cache it is the only place that holds mailbox keys, and it decides where
 * each delivery lands: straight into an unlocked mailbox, or sealed into the
 * spool when the owner has not logged in (zero-access mode).
 *
 * Leases: every session that uses a mailbox holds a lease; the mailbox stays
 * open (and its key in memory) while any lease is held, plus a short grace
 * period so per-request clients (DAV) do not pay a key derivation each time.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import {
  DecryptError,
  generateBoxKeyPair,
  newAppPassword,
  newId,
  newRecoveryKey,
  normalizeSecret,
  openSealed,
  seal as aeadSeal,
  sealTo,
  unwrapKey,
  wrapKey,
  type WrapKind,
  type WrappedKey,
} from '../crypto/index.js';
import { randomBytes } from 'node:crypto';
import type { ParsedMessage } from '../mime/index.js';
import { closeDb, openEncrypted, announceOpened } from './db.js';
import { Directory, type Account, type KeyWrapRecord } from './directory/directory.js';
import { directoryMigrations } from './directory/schema.js';
import { AuthFailedError, MailboxLockedError, NotFoundError, QuotaExceededError, WeakPasswordError } from './errors.js';
import { Mailbox, type MailboxChange } from './mailbox/mailbox.js';
import { migrate } from './migrate.js';
import { Spool } from './spool.js';
import { fsyncDir } from '../util/fsync.js';
import { LOGIN_CACHE_MS, LoginCache, type LoginProof } from './login-cache.js';
import { BOX_PRIVATE_AAD, OpenMailboxes, type OpenEntry } from './open-mailboxes.js';
import { DEFAULT_INDEX_SCHEDULE, type IndexSchedule } from './mailbox/fts-queue.js';
import { passwordProblem } from '../admin/password-policy.js';
import { directoryPath, mailboxDir, mailboxPath, spoolPath } from './layout.js';

export type KeyMode = 'zero-access' | 'managed';

export interface StoreOptions {
  dataDir: string;
  masterKey: Buffer;
  keyMode?: KeyMode;
  /** How long an unused unlocked mailbox stays open (ms). */
  idleCloseMs?: number;
  /** Most mailboxes kept open at once; least recently used idle ones close first. */
  maxOpen?: number;
  /** Page cache of each open mailbox database, KiB (db.ts: the driver's default is 16 MB). */
  mailboxCacheKiB?: number;
  /** How long an unused open mailbox keeps its page cache and flag indexes (ms); then they are released until it is used again. */
  trimAfterMs?: number;
  /** Rendered DAV responses each open mailbox may keep (bytes; 0 turns the cache off). */
  davResponseCacheBytes?: number;
  /** What the rendered DAV responses of all open mailboxes hold together. */
  davResponseCacheTotalBytes?: number;
  /** When new mail's full-text rows are written (mailbox/fts-queue.ts). */
  indexSchedule?: IndexSchedule;
}

/**
 * Memory defaults for a 1 GB server: 200 open mailboxes at most, each caching
 * 1 MiB of decrypted pages while in use and giving it back after 30 s unused.
 * Worst case in page cache: 200 MiB with every mailbox busy at once.
 */
export const STORE_MEMORY_DEFAULTS = { maxOpen: 200, mailboxCacheKiB: 1024, trimAfterMs: 30_000, davResponseCacheBytes: 4 * 1024 * 1024, davResponseCacheTotalBytes: 32 * 1024 * 1024 };

export interface Lease {
  readonly account: Account;
  readonly mailbox: Mailbox;
  /**
   * How the login was proven: 'cached' skipped the KDF (the secret was proven
   * while this mailbox was open), 'warm' the directory lookup as well (the
   * same user and secret proven against this very open mailbox, nothing about
   * the account changed since).
   */
  readonly via: 'password' | 'app' | 'recovery' | 'master' | 'cached' | 'warm';
  /** Which secret proved it, also when the proof came from the login cache: what may be done can depend on it (only the main password manages app passwords). */
  readonly credential: LoginProof;
  release(): void;
}

export type Credential = { password: string } | { recoveryKey: string };

export interface DeliveryOptions {
  folder?: string;
  flags?: string[];
  /** Create the folder when it does not exist (Sieve fileinto :create); otherwise INBOX takes the message. */
  create?: boolean;
  parsed?: ParsedMessage;
  internalDate?: number;
}

export type DeliveryResult = { accountId: string; where: 'mailbox' | 'spool'; uid?: number };

export class Store {
  readonly directory: Directory;
  readonly spool: Spool;
  readonly dataDir: string;
  readonly keyMode: KeyMode;
  private readonly masterKey: Buffer;
  private readonly open: OpenMailboxes;
  /** Logins proven while their mailbox is open: see authenticate. */
  private readonly logins = new LoginCache<OpenEntry>();
  private readonly changeListeners = new Set<(accountId: string, mailbox: Mailbox, change: MailboxChange) => void>();

  private constructor(opts: StoreOptions, directory: Directory, spool: Spool) {
    this.dataDir = opts.dataDir;
    this.masterKey = opts.masterKey;
    this.keyMode = opts.keyMode ?? 'zero-access';
    this.open = new OpenMailboxes(
      {
        idleCloseMs: opts.idleCloseMs ?? 5 * 60_000,
        maxOpen: opts.maxOpen ?? STORE_MEMORY_DEFAULTS.maxOpen,
        mailboxCacheKiB: opts.mailboxCacheKiB ?? STORE_MEMORY_DEFAULTS.mailboxCacheKiB,
        trimAfterMs: opts.trimAfterMs ?? STORE_MEMORY_DEFAULTS.trimAfterMs,
        davResponseCacheBytes: opts.davResponseCacheBytes ?? STORE_MEMORY_DEFAULTS.davResponseCacheBytes,
        davResponseCacheTotalBytes: opts.davResponseCacheTotalBytes ?? STORE_MEMORY_DEFAULTS.davResponseCacheTotalBytes,
        indexSchedule: opts.indexSchedule ?? DEFAULT_INDEX_SCHEDULE,
      },
      {
        path: (accountId) => this.mailboxPath(accountId),
        opened: (accountId, e) => {
          e.mailbox.onChange((c) => this.changeListeners.forEach((fn) => fn(accountId, e.mailbox, c)));
          this.drainSpool(accountId, e);
        },
        // The directory's usage figure is a cache for quota checks while the mailbox is locked; refreshed at each close.
        closing: (accountId, e) => this.directory.setUsage(accountId, e.mailbox.usedBytes()),
        closed: (accountId) => this.logins.forget(accountId),
      },
    );
    this.directory = directory;
    this.spool = spool;
  }

  static open(opts: StoreOptions): Store {
    mkdirSync(mailboxDir(opts.dataDir), { recursive: true, mode: 0o700 });
    const dirPath = directoryPath(opts.dataDir);
    const db = openEncrypted(dirPath, opts.masterKey);
    try {
      migrate(dirPath, db, directoryMigrations);
    } catch (err) {
      db.close();
      throw err;
    }
    announceOpened(dirPath, db, opts.masterKey);
    const spool = Spool.open(spoolPath(opts.dataDir), opts.masterKey);
    return new Store(opts, new Directory(dirPath, db), spool);
  }

  mailboxPath(accountId: string): string {
    return mailboxPath(this.dataDir, accountId);
  }

  // ---------------------------------------------------------------- accounts

  async createAccount(
    address: string,
    password: string,
    opts: { displayName?: string | null; quotaBytes?: number; keyMode?: KeyMode } = {},
  ): Promise<{ account: Account; recoveryKey: string }> {
    checkPassword(password);
    const keyMode = opts.keyMode ?? this.keyMode;
    const key = randomBytes(32);
    const box = generateBoxKeyPair();
    const recoveryKey = newRecoveryKey();
    const wraps: { id: string; kind: WrapKind; wrapped: WrappedKey }[] = [
      { id: newId(), kind: 'password' as const, wrapped: await wrapKey('password', password, key) },
      { id: newId(), kind: 'recovery' as const, wrapped: await wrapKey('recovery', normalizeSecret(recoveryKey), key) },
    ];
    if (keyMode === 'managed') wraps.push({ id: newId(), kind: 'master' as const, wrapped: await wrapKey('master', this.masterKey, key) });
    const id = newId();
    // The mailbox file exists before the directory names it, so a crash between
    // the two leaves an orphan file, never an account without a mailbox.
    const path = this.mailboxPath(id);
    Mailbox.open(id, path, key, { create: true }).close();
    fsyncDir(path);
    let account: Account;
    try {
      account = this.directory.insertAccount({
        id,
        address,
        displayName: opts.displayName,
        keyMode,
        quotaBytes: opts.quotaBytes,
        boxPublic: box.publicKey,
        boxPrivateSealed: aeadSeal(key, box.privateKey, BOX_PRIVATE_AAD),
        wraps,
      });
    } catch (err) {
      // Refused (duplicate, unknown domain, bad address): the new file names nobody.
      for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
      throw err;
    }
    return { account, recoveryKey };
  }

  private requireAccount(address: string): Account {
    const a = this.directory.getAccount(address);
    if (!a) throw new NotFoundError(`no account ${address}; see \`haven account list\``);
    return a;
  }

  /**
   * Proves a secret against an account's wraps and returns the mailbox key.
   * App passwords are tried first: they are cheap (HKDF) and most logins from
   * mail clients use them. A wrong secret costs one scrypt either way.
   */
  private async unlockKey(account: Account, secret: string, allowRecovery = false): Promise<{ key: Buffer; via: Lease['credential']; wrap: KeyWrapRecord }> {
    const wraps = this.directory.wraps(account.id);
    const norm = normalizeSecret(secret);
    for (const w of wraps.filter((x) => x.kind === 'app' || (allowRecovery && x.kind === 'recovery'))) {
      try {
        return { key: await unwrapKey(w.wrapped, norm), via: w.kind === 'app' ? 'app' : 'recovery', wrap: w };
      } catch (err) {
        if (!(err instanceof DecryptError)) throw err;
      }
    }
    for (const w of wraps.filter((x) => x.kind === 'password')) {
      try {
        return { key: await unwrapKey(w.wrapped, secret), via: 'password', wrap: w };
      } catch (err) {
        if (!(err instanceof DecryptError)) throw err;
      }
    }
    throw new AuthFailedError();
  }

  /**
   * Logs in with a password or app password; unlocks and drains the mailbox.
   *
   * Warm path: the same user and secret proven before, while the mailbox it
   * unlocked is still the open one, no account or wrap has changed since
   * (Directory.accountGeneration) and within LOGIN_CACHE_MS. Every change of
   * a wrap, a disable or a removal happens in this process (the one writer)
   * and moves the generation on; closing or locking the mailbox forgets its
   * warm logins. A wrong secret never finds an entry, so failures always pay
   * the full check and the callers' limiters see them as before.
   */
  async authenticate(address: string, secret: string): Promise<Lease> {
    const wk = this.logins.warmKey(address, secret);
    const warm = this.logins.getWarm(wk);
    if (warm) {
      if (warm.generation === this.directory.accountGeneration && warm.expires > Date.now() && this.open.get(warm.account.id) === warm.entry) return this.lease(warm.account, 'warm', warm.credential);
      this.logins.dropWarm(wk);
    }
    // Read before any await: a change of wraps while the KDF runs must not leave the old secret remembered.
    const generation = this.directory.accountGeneration;
    const account = this.directory.getAccount(address);
    if (!account || account.disabled) {
      // Spend the same effort as a real attempt so timing does not reveal which addresses exist.
      await wrapKey('password', secret, randomBytes(32)).catch(() => undefined);
      throw new AuthFailedError();
    }
    // Every change of a wrap (password, app password, reset) happens in this process, the one writer,
    // and forgets the account's remembered logins there; so a proven login is still good while it lasts.
    const proven = this.open.has(account.id) ? this.logins.provenLogin(account.id, secret) : undefined;
    if (proven !== undefined) {
      this.rememberWarm(wk, account, generation, proven.expires, proven.credential);
      return this.lease(account, 'cached', proven.credential);
    }
    const { key, via, wrap } = await this.unlockKey(account, secret);
    if (via === 'app') this.directory.touchWrap(wrap.id);
    const e = this.open.open(account, key);
    if (this.directory.accountGeneration === generation) {
      const expires = Date.now() + LOGIN_CACHE_MS;
      this.logins.rememberProven(account.id, secret, expires, via);
      this.rememberWarm(wk, account, generation, expires, via, e);
    }
    return this.lease(account, via, via);
  }

  private rememberWarm(wk: string, account: Account, generation: number, expires: number, credential: LoginProof, entry = this.open.get(account.id)): void {
    if (entry && generation === this.directory.accountGeneration) this.logins.rememberWarm(wk, { account, entry, generation, expires, credential });
  }

  /**
   * Opens a mailbox without a login: possible while it is unlocked by a
   * session, or at any time in managed mode. Otherwise MailboxLockedError.
   */
  async openMailbox(accountId: string): Promise<Lease> {
    const account = this.directory.getAccountById(accountId);
    if (!account) throw new NotFoundError(`no account with id ${accountId}`);
    if (!this.open.has(accountId)) {
      const master = this.directory.wraps(accountId).find((w) => w.kind === 'master');
      if (!master) throw new MailboxLockedError(accountId);
      this.open.open(account, await unwrapKey(master.wrapped, this.masterKey));
    }
    return this.lease(account, 'master', 'master');
  }

  /**
   * Every committed change of every open mailbox (the rspamd learner watches
   * messages moved into and out of Junk here, whoever moved them: IMAP, the web
   * UI, a script). Returns the unsubscribe function.
   */
  onMailboxChange(fn: (accountId: string, mailbox: Mailbox, change: MailboxChange) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  isUnlocked(accountId: string): boolean {
    return this.open.has(accountId);
  }

  private lease(account: Account, via: Lease['via'], credential: Lease['credential']): Lease {
    const e = this.open.get(account.id)!;
    this.open.acquire(e);
    let released = false;
    return {
      account,
      mailbox: e.mailbox,
      via,
      credential,
      release: () => {
        if (released) return;
        released = true;
        this.open.release(account.id, e);
      },
    };
  }

  /** Locks a mailbox now (closing it) if no session holds it. */
  lock(accountId: string): void {
    this.open.close(accountId);
  }

  /**
   * Moves sealed mail into the mailbox in arrival order. Each message and the
   * spool sequence it came from commit together, so a crash at any point
   * neither loses nor duplicates: the next drain starts after the last
   * recorded sequence.
   */
  private drainSpool(accountId: string, e: OpenEntry): number {
    let moved = 0;
    const inbox = e.mailbox.folders.require('INBOX');
    for (;;) {
      const batch = this.spool.pending(accountId, e.mailbox.lastSpoolSeq(), 50);
      if (batch.length === 0) break;
      for (const entry of batch) {
        const { meta, raw } = unpackSealed(openSealed(e.box, entry.sealed));
        const folder = (meta.folder && (e.mailbox.folders.get(meta.folder) ?? createIfAsked(e.mailbox, meta))) || inbox;
        e.mailbox.messages.appendMany(folder.id, [{ raw, flags: meta.flags, internalDate: meta.receivedAt, ignoreQuota: true }], undefined, () =>
          e.mailbox.markSpoolSeq(entry.seq),
        );
        moved++;
      }
    }
    if (moved > 0 || this.spool.stats(accountId).messages > 0) this.spool.drop(accountId, e.mailbox.lastSpoolSeq());
    return moved;
  }

  /**
   * Changes a password given the current password or the recovery key. The
   * mailbox key stays the same, so no mail is rewritten.
   */
  async changePassword(address: string, cred: Credential, newPassword: string): Promise<void> {
    checkPassword(newPassword);
    const account = this.requireAccount(address);
    const { key } =
      'password' in cred
        ? await this.unlockKey(account, cred.password)
        : await this.unlockKey(account, cred.recoveryKey, true).then((r) => {
            if (r.via !== 'recovery') throw new AuthFailedError();
            return r;
          });
    const wrapped = await wrapKey('password', newPassword, key);
    this.directory.replaceWraps(account.id, ['password'], [{ id: newId(), kind: 'password', wrapped }]);
    this.forgetLogins(account.id);
  }

  /** A changed or revoked secret must stop working at once, even for cached logins. */
  private forgetLogins(accountId: string): void {
    this.logins.forget(accountId);
  }

  /**
   * Admin reset without the old password. In managed mode the key is
   * re-wrapped and all mail stays. In zero-access mode the server cannot read
   * the old key: the account starts a new, empty mailbox, and the old one is
   * set aside (readable again only with the recovery key).
   */
  async resetPassword(address: string, newPassword: string): Promise<{ keptMail: boolean; recoveryKey?: string; setAside?: string }> {
    checkPassword(newPassword);
    const account = this.requireAccount(address);
    this.forgetLogins(account.id);
    const master = this.directory.wraps(account.id).find((w) => w.kind === 'master');
    if (master) {
      const key = await unwrapKey(master.wrapped, this.masterKey);
      this.directory.replaceWraps(account.id, ['password'], [{ id: newId(), kind: 'password', wrapped: await wrapKey('password', newPassword, key) }]);
      // Again: a login with the old password may have finished while the new one was being wrapped.
      this.forgetLogins(account.id);
      return { keptMail: true };
    }
    const e = this.open.get(account.id);
    if (e && e.refs > 0) throw new MailboxLockedError(account.id);
    this.open.close(account.id);
    const path = this.mailboxPath(account.id);
    const aside = `${path}.set-aside-${Date.now()}`;
    if (existsSync(path)) renameSync(path, aside);
    for (const ext of ['-wal', '-shm']) if (existsSync(path + ext)) renameSync(path + ext, aside + ext);
    const key = randomBytes(32);
    const box = generateBoxKeyPair();
    const recoveryKey = newRecoveryKey();
    Mailbox.open(account.id, path, key, { create: true }).close();
    this.directory.replaceWraps(
      account.id,
      ['password', 'recovery', 'app'],
      [
        { id: newId(), kind: 'password', wrapped: await wrapKey('password', newPassword, key) },
        { id: newId(), kind: 'recovery', wrapped: await wrapKey('recovery', normalizeSecret(recoveryKey), key) },
      ],
      { boxPublic: box.publicKey, boxPrivateSealed: aeadSeal(key, box.privateKey, BOX_PRIVATE_AAD) },
    );
    this.spool.dropAll(account.id);
    return { keptMail: false, recoveryKey, setAside: aside };
  }

  /** Creates an app password; needs the account's password (or an unlocked mailbox) to wrap the key. */
  async addAppPassword(address: string, label: string, password?: string): Promise<{ id: string; password: string }> {
    const account = this.requireAccount(address);
    const key = this.open.get(account.id)?.key ?? (password !== undefined ? (await this.unlockKey(account, password)).key : null);
    if (!key) throw new MailboxLockedError(account.id);
    const secret = newAppPassword();
    const id = newId();
    this.directory.addWrap(account.id, { id, kind: 'app', label, wrapped: await wrapKey('app', normalizeSecret(secret), key) });
    return { id, password: secret };
  }

  listAppPasswords(address: string): { id: string; label: string | null; createdAt: number; lastUsedAt: number | null }[] {
    const account = this.requireAccount(address);
    return this.directory
      .wraps(account.id)
      .filter((w) => w.kind === 'app')
      .map((w) => ({ id: w.id, label: w.label, createdAt: w.createdAt, lastUsedAt: w.lastUsedAt }));
  }

  revokeAppPassword(address: string, id: string): void {
    const account = this.requireAccount(address);
    if (!this.directory.removeWrap(account.id, id)) throw new NotFoundError(`no app password ${id} for ${address}; see \`haven app-password list ${address}\``);
    this.forgetLogins(account.id);
  }

  removeAccount(address: string): void {
    const account = this.requireAccount(address);
    const e = this.open.get(account.id);
    if (e && e.refs > 0) throw new MailboxLockedError(account.id);
    this.open.close(account.id);
    this.directory.removeAccount(account.id);
    this.spool.dropAll(account.id);
    const path = this.mailboxPath(account.id);
    for (const ext of ['', '-wal', '-shm']) rmSync(path + ext, { force: true });
  }

  // ---------------------------------------------------------------- delivery

  /** Bytes used, counting sealed mail not yet drained. */
  usage(account: Account): number {
    const e = this.open.get(account.id);
    if (e) return e.mailbox.usedBytes();
    return account.usedBytes + this.spool.stats(account.id).bytes;
  }

  /** Throws QuotaExceededError when `size` more bytes would not fit. */
  checkQuota(account: Account, size: number): void {
    if (account.quotaBytes > 0) {
      const used = this.usage(account);
      if (used + size > account.quotaBytes) throw new QuotaExceededError(used, account.quotaBytes);
    }
  }

  /**
   * Delivers one message to one account: into the open mailbox, or sealed
   * into the spool. Durable when it returns; that is what lets SMTP say 250.
   */
  async deliver(accountId: string, raw: Buffer, opts: DeliveryOptions = {}): Promise<DeliveryResult> {
    const account = this.directory.getAccountById(accountId);
    if (!account) throw new NotFoundError(`no account with id ${accountId}`);
    if (!this.open.has(accountId) && account.keyMode === 'managed') {
      (await this.openMailbox(accountId)).release();
    }
    const e = this.open.get(accountId);
    const receivedAt = opts.internalDate ?? Date.now();
    if (e) {
      const folder = (opts.folder && (e.mailbox.folders.get(opts.folder) ?? createIfAsked(e.mailbox, opts))) || e.mailbox.folders.require('INBOX');
      const r = e.mailbox.messages.append(folder.id, raw, { flags: opts.flags, parsed: opts.parsed, internalDate: receivedAt, ignoreQuota: true });
      return { accountId, where: 'mailbox', uid: r.uid };
    }
    this.spool.add(accountId, sealTo(account.boxPublic, packSealed({ folder: opts.folder, flags: opts.flags, create: opts.create, receivedAt }, raw)), receivedAt);
    return { accountId, where: 'spool' };
  }

  /**
   * Seals deliveries for locked mailboxes into the spool, all in one
   * transaction whose fsync runs off the event loop (group commit for the MX):
   * durable when the promise resolves. Callers check isUnlocked first, in the
   * same tick, so nothing is sealed for a mailbox that is open.
   */
  sealMany(items: { accountId: string; raw: Buffer; folder?: string; flags?: string[]; create?: boolean }[]): Promise<void> {
    const receivedAt = Date.now();
    const entries = items.map((it) => {
      const account = this.directory.getAccountById(it.accountId);
      if (!account) throw new NotFoundError(`no account with id ${it.accountId}`);
      // The folder and flags a Sieve script chose travel sealed with the message, applied when the owner unlocks.
      return { accountId: it.accountId, sealed: sealTo(account.boxPublic, packSealed({ folder: it.folder, flags: it.flags, create: it.create, receivedAt }, it.raw)) };
    });
    return this.spool.addManyDeferred(entries, receivedAt).durable;
  }

  /** Open mailboxes (for health and memory accounting). */
  openCount(): number {
    return this.open.size;
  }

  close(): void {
    this.open.closeAll();
    this.spool.close();
    // Through closeDb like every other database, so replication keeps the directory's last frames.
    closeDb(this.directory.path, this.directory.db);
  }
}

interface SealedMeta {
  folder?: string;
  flags?: string[];
  create?: boolean;
  receivedAt: number;
}

/** Sieve's fileinto :create: make the folder; a refused name (or none asked) leaves the message to INBOX. */
function createIfAsked(mailbox: Mailbox, opts: { folder?: string; create?: boolean }) {
  if (!opts.create || !opts.folder) return null;
  try {
    return mailbox.folders.create(opts.folder);
  } catch {
    return null;
  }
}

/** Sealed payload: u32 length of a JSON header, the header, then the raw message. */
function packSealed(meta: SealedMeta, raw: Buffer): Buffer {
  const head = Buffer.from(JSON.stringify(meta));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  return Buffer.concat([len, head, raw]);
}

function unpackSealed(buf: Buffer): { meta: SealedMeta; raw: Buffer } {
  const n = buf.readUInt32BE(0);
  return { meta: JSON.parse(buf.subarray(4, 4 + n).toString()), raw: buf.subarray(4 + n) };
}

/** The one password rule (node/admin/password-policy), also here so no path into the store skips it. */
function checkPassword(pw: string): void {
  const problem = typeof pw === 'string' ? passwordProblem(pw) : 'a password must be text';
  if (problem) throw new WeakPasswordError(problem);
}
