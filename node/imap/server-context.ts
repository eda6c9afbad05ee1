/**
 * @module node/imap/server-context
 * What every session of one listener shares: the store and login policy,
 * the capability list (which depends on the session's TLS and login state),
 * and the per-account and per-IP counters the limits are enforced with.
 */
import type { Store } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import { ImapError } from './errors.js';
import type { Session } from './session.js';

export interface ImapLimits {
  maxLine: number;
  maxLiteral: number;
  /** Largest message APPEND takes (APPENDLIMIT). */
  appendLimit: number;
  maxConnectionsPerIp: number;
  maxConnectionsPerAccount: number;
  /** Commands a session may issue per second (a burst of this many, refilled each second). */
  commandsPerSecond: number;
  /** Idle time before the server says BYE (RFC 9051: at least 30 minutes). */
  idleTimeoutMs: number;
  /** Idle time allowed before login. */
  preauthTimeoutMs: number;
  /**
   * Advertise LITERAL- instead of LITERAL+ (RFC 7888): clients then send any
   * literal over 4096 bytes synchronizing, so an oversized APPEND is refused
   * before its bytes cross the network. For a node on a slow or metered link.
   */
  literalMinus: boolean;
  /**
   * Unread output past which a NOTIFY session loses its notifications
   * (RFC 5465 §5.8 NOTIFICATIONOVERFLOW) instead of the server buffering
   * without end for a client that stopped reading.
   */
  notifyBacklogBytes: number;
  /**
   * Longest line, literal and request before login (a LOGIN or AUTHENTICATE
   * fits in a few KB): an unauthenticated client cannot make the server hold
   * more, whatever the post-login limits are.
   */
  preLoginMaxBytes: number;
  /**
   * Unsent output past which a client that stopped reading is disconnected.
   * Long responses wait for the client at 1 MB, so only one large item (a
   * message body up to appendLimit) can sit on top of that.
   */
  maxUnsentBytes: number;
}

export const DEFAULT_IMAP_LIMITS: ImapLimits = {
  maxLine: 64 * 1024,
  maxLiteral: 64 * 1024 * 1024,
  appendLimit: 64 * 1024 * 1024,
  maxConnectionsPerIp: 50,
  maxConnectionsPerAccount: 20,
  commandsPerSecond: 500,
  idleTimeoutMs: 30 * 60_000,
  preauthTimeoutMs: 60_000,
  literalMinus: false,
  notifyBacklogBytes: 4 * 1024 * 1024,
  preLoginMaxBytes: 8 * 1024,
  maxUnsentBytes: 72 * 1024 * 1024,
};

const AFTER_LOGIN = [
  'IMAP4rev2', 'IMAP4rev1', 'ENABLE', 'IDLE', 'NAMESPACE', 'ID', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN',
  'SPECIAL-USE', 'CREATE-SPECIAL-USE', 'LIST-EXTENDED', 'LIST-STATUS', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES',
  'SORT', 'SORT=DISPLAY', 'THREAD=REFERENCES', 'THREAD=ORDEREDSUBJECT', 'QUOTA', 'QUOTA=RES-STORAGE', 'MULTIAPPEND', 'BINARY',
  'UTF8=ACCEPT', 'STATUS=SIZE', 'NOTIFY', 'WITHIN',
];

export class ServerContext {
  private readonly perAccount = new Map<string, number>();
  private readonly buckets = new WeakMap<Session, { tokens: number; at: number }>();

  constructor(
    readonly store: Store,
    readonly authLimiter: AuthLimiter,
    readonly hostname: string,
    readonly limits: ImapLimits,
    readonly allowPlaintextOnLoopback: boolean,
  ) {}

  /** Whether this session may send a password now (TLS, or plaintext allowed on loopback). */
  loginAllowed(s: Session): boolean {
    if (s.io.secure) return true;
    const ip = s.io.remoteAddress;
    return this.allowPlaintextOnLoopback && (ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1');
  }

  get literalCap(): string {
    return this.limits.literalMinus ? 'LITERAL-' : 'LITERAL+';
  }

  capabilities(s: Session): string[] {
    if (s.state.kind === 'notauth') {
      const caps = ['IMAP4rev2', 'IMAP4rev1', this.literalCap, 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE'];
      if (!s.io.secure) caps.push('STARTTLS');
      if (this.loginAllowed(s)) caps.push('AUTH=PLAIN');
      else caps.push('LOGINDISABLED');
      return caps;
    }
    const caps = [...AFTER_LOGIN.slice(0, 2), this.literalCap, ...AFTER_LOGIN.slice(2), `APPENDLIMIT=${this.limits.appendLimit}`];
    if (!s.io.compressed) caps.push('COMPRESS=DEFLATE');
    return caps;
  }

  /** Counts a login; refuses one past the per-account connection limit. */
  loggedIn(accountId: string): void {
    const n = this.perAccount.get(accountId) ?? 0;
    if (n >= this.limits.maxConnectionsPerAccount)
      throw new ImapError('NO', 'LIMIT', `too many connections to this account (${n}); close some mail clients and try again`);
    this.perAccount.set(accountId, n + 1);
  }

  loggedOut(accountId: string): void {
    const n = (this.perAccount.get(accountId) ?? 1) - 1;
    if (n <= 0) this.perAccount.delete(accountId);
    else this.perAccount.set(accountId, n);
  }

  /** A token bucket per session: a burst of `commandsPerSecond`, refilled at that rate. */
  rateCheck(s: Session, now = Date.now()): void {
    const rate = this.limits.commandsPerSecond;
    const b = this.buckets.get(s) ?? { tokens: rate, at: now };
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens < 1) throw new ImapError('NO', 'LIMIT', `more than ${rate} commands a second; slow down`);
    b.tokens -= 1;
    this.buckets.set(s, b);
  }
}
