/**
 * @module node/imap/commands/login
 * RFC 9051 §6.2.3 LOGIN (and the shared login step of AUTHENTICATE): only
 * over TLS (or loopback when configured), through the shared AuthLimiter,
 * then store.authenticate, which unlocks the mailbox and drains its sealed
 * spool before the session sees it. The tagged OK carries the capabilities.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { AuthFailedError } from '../../store/index.js';
import { clip } from '../../util/log.js';
import { ImapError } from '../errors.js';
import { leasePort } from '../port.js';
import type { Done, Handler, Session } from '../session.js';

export async function logIn(s: Session, user: string, secret: string): Promise<Done> {
  if (!s.ctx.loginAllowed(s)) throw new ImapError('NO', 'PRIVACYREQUIRED', 'log in over TLS: use STARTTLS first, or port 993');
  const ip = s.io.remoteAddress;
  const gate = s.ctx.authLimiter.check(ip, user);
  if (gate.locked) throw new ImapError('NO', 'UNAVAILABLE', `too many failed logins; try again in ${Math.ceil(gate.retryAfterMs / 60_000)} minutes`);
  if (gate.delayMs) await delay(gate.delayMs);
  let lease;
  try {
    lease = await s.ctx.store.authenticate(user, secret);
  } catch (err) {
    if (err instanceof AuthFailedError) {
      s.ctx.authLimiter.fail(ip, user);
      s.log.info({ user: clip(user) }, 'login failed');
    }
    throw err;
  }
  s.ctx.authLimiter.succeed(ip, user);
  try {
    s.ctx.loggedIn(lease.account.id);
  } catch (err) {
    lease.release();
    throw err;
  }
  s.authenticated(leasePort(lease));
  s.log.info({ account: lease.account.id, via: lease.via }, 'logged in');
  return { code: `CAPABILITY ${s.ctx.capabilities(s).join(' ')}`, text: 'logged in' };
}

export const login: Handler<'LOGIN'> = {
  states: ['notauth'],
  handle: (s, cmd) => logIn(s, cmd.user, cmd.pass),
};
