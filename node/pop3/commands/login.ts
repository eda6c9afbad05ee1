/**
 * @module node/pop3/commands/login
 * What PASS and AUTH PLAIN share: the shared AuthLimiter (the same lockout as
 * SMTP and IMAP), the store login, the maildrop lock, and the move to
 * TRANSACTION (RFC 1939 §4, RFC 2449 §8.1 LOGIN-DELAY, RFC 3206 AUTH).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AuthFailedError } from '../../store/index.js';
import { clip } from '../../util/log.js';
import { Pop3Error } from '../errors.js';
import { ok } from '../respond.js';
import type { Pop3Context } from '../state.js';

export function requirePlaintext(ctx: Pop3Context): void {
  if (!ctx.plaintextAllowed)
    throw new Pop3Error(null, ctx.secure ? 'plaintext login is disabled' : 'log in over TLS: send STLS first, or connect to the POP3S port');
}

export async function login(ctx: Pop3Context, user: string, secret: string): Promise<void> {
  const gate = ctx.authLimiter.check(ctx.remote, user);
  if (gate.locked) {
    const minutes = Math.max(1, Math.ceil(gate.retryAfterMs / 60_000));
    throw new Pop3Error('LOGIN-DELAY', `too many failed logins; wait ${minutes} minute(s) and retry with the right password`);
  }
  // Growing delay per recent failure: slows guessing without locking out the owner.
  if (gate.delayMs > 0) await sleep(gate.delayMs);
  let drop;
  try {
    drop = await ctx.backend.open(user, secret);
  } finally {
    ctx.state = { kind: 'authorization', user: null };
  }
  if (!ctx.open) {
    drop.release();
    return;
  }
  ctx.authLimiter.succeed(ctx.remote, user);
  ctx.state = { kind: 'transaction', drop, deleted: new Set() };
  const octets = drop.entries.reduce((n, e) => n + e.size, 0);
  ctx.log.info({ user: drop.account, messages: drop.entries.length }, 'pop3 login');
  await ctx.send(ok(`maildrop has ${drop.entries.length} messages (${octets} octets)`));
}

/** Counts a failed login against the IP, the account and this connection; closes past the limit. */
export function loginFailed(ctx: Pop3Context, user: string, err: unknown): unknown {
  if (!(err instanceof AuthFailedError)) return err;
  ctx.authLimiter.fail(ctx.remote, user);
  ctx.authFailures++;
  ctx.log.info({ user: clip(user), failures: ctx.authFailures }, 'pop3 login failed');
  if (ctx.authFailures >= ctx.limits.maxAuthFailures)
    return new Pop3Error('AUTH', 'wrong user name or password, too many times; closing — check your settings before reconnecting', true);
  return err;
}
