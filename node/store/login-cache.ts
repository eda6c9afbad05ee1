/**
 * @module node/store/login-cache
 * What the store remembers of logins it has proven, so repeat logins while
 * a mailbox is open cost neither a KDF nor (warm) a directory lookup. DAV
 * clients sign every request in with Basic (RFC 7617 §2), IMAP and SMTP
 * clients reconnect often. Nothing here holds a secret: entries are found by
 * hashes, and the warm hash is keyed by a random per-process key, so a
 * memory image does not offer a fast offline check of guessed passwords.
 * The store decides when an entry still holds (see Store.authenticate) and
 * forgets an account's entries whenever its secrets change or its mailbox closes.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Account } from './directory/directory.js';

/** How long a proven login is remembered. */
export const LOGIN_CACHE_MS = 5 * 60_000;
/** Warm logins remembered at once (a few hundred bytes each); past it the oldest is forgotten. */
const WARM_LOGINS_MAX = 1024;

/** A login proven earlier whose mailbox is still open. */
export interface WarmLogin<E> {
  account: Account;
  /** The open mailbox it was proven against: a closed and reopened mailbox is another entry. */
  entry: E;
  /** Directory.accountGeneration when it was proven. */
  generation: number;
  expires: number;
  /** Which secret proved it (only the main password manages app passwords). */
  credential: LoginProof;
}

/** The kind of secret a login was proven with. */
export type LoginProof = 'password' | 'app' | 'recovery' | 'master';

export class LoginCache<E> {
  /** sha256(account id, secret) -> expiry: a repeat login skips the KDF while the key is in memory. */
  private readonly proven = new Map<string, { accountId: string; expires: number; credential: LoginProof }>();
  /** sha256(key, user as sent, secret) -> a warm login: a repeat login skips the directory as well. */
  private readonly warm = new Map<string, WarmLogin<E>>();
  private readonly key = randomBytes(32);

  /** The warm key of a user (as sent) and secret: the user's length first, so no two pairs run together. */
  warmKey(user: string, secret: string): string {
    // A keyed hash rather than an HMAC object: creating one cost more than the rest of a warm login.
    return createHash('sha256').update(this.key).update(`${user.length}:${user}\0`).update(secret).digest('base64');
  }

  getWarm(wk: string): WarmLogin<E> | undefined {
    return this.warm.get(wk);
  }

  dropWarm(wk: string): void {
    this.warm.delete(wk);
  }

  rememberWarm(wk: string, login: WarmLogin<E>): void {
    if (this.warm.size >= WARM_LOGINS_MAX) this.warm.delete(this.warm.keys().next().value!);
    this.warm.set(wk, login);
  }

  private provenKey(accountId: string, secret: string): string {
    return createHash('sha256').update(accountId).update('\0').update(secret).digest('base64');
  }

  /** A login of this account with this secret proven earlier and still in date: when it expires and with what it was proven. */
  provenLogin(accountId: string, secret: string): { expires: number; credential: LoginProof } | undefined {
    const k = this.provenKey(accountId, secret);
    const p = this.proven.get(k);
    if (p && p.expires > Date.now()) return p;
    if (p) this.proven.delete(k);
    return undefined;
  }

  rememberProven(accountId: string, secret: string, expires: number, credential: LoginProof): void {
    this.proven.set(this.provenKey(accountId, secret), { accountId, expires, credential });
  }

  /** A changed or revoked secret, a lock or a close: every remembered login of the account goes. */
  forget(accountId: string): void {
    for (const [k, v] of this.proven) if (v.accountId === accountId) this.proven.delete(k);
    for (const [k, v] of this.warm) if (v.account.id === accountId) this.warm.delete(k);
  }
}
