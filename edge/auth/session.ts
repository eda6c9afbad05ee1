/**
 * @module edge/auth/session
 * The admin session: a signed cookie (no server-side session table, so a
 * Worker needs no storage to check it), a CSRF token bound to the session id,
 * and revocation on logout through KV so a copied cookie dies with the
 * session rather than at its expiry.
 *
 * Cookie value: base64url(JSON {sid, iat, exp, via}) "." base64url(HMAC-SHA256).
 */
import { b64urlDecode, b64urlEncode, hmac, hmacVerify, randomId, utf8, type HmacKey } from '../crypto.js';
import { KV_MIN_TTL, type EdgeKv } from '../kv.js';

export const SESSION_COOKIE = 'haven_session';
/** Sessions end 12 hours after login, whatever the activity. */
export const SESSION_TTL_SECONDS = 12 * 3600;

export interface Session {
  sid: string;
  /** Issued at, unix seconds. */
  iat: number;
  /** Expires at, unix seconds. */
  exp: number;
  via: 'password' | 'access';
}

export function newSession(now: number, via: Session['via']): Session {
  return { sid: randomId(16), iat: now, exp: now + SESSION_TTL_SECONDS, via };
}

export async function sealSession(key: HmacKey, s: Session): Promise<string> {
  const body = b64urlEncode(utf8(JSON.stringify(s)));
  return `${body}.${await hmac(key, `session\n${body}`)}`;
}

/** The session in a cookie value, or null when it is forged, malformed, expired or revoked. */
export async function openSession(key: HmacKey, kv: EdgeKv, value: string | undefined, now: number): Promise<Session | null> {
  if (!value) return null;
  const dot = value.indexOf('.');
  if (dot <= 0) return null;
  const body = value.slice(0, dot);
  if (!(await hmacVerify(key, `session\n${body}`, value.slice(dot + 1)))) return null;
  const bytes = b64urlDecode(body);
  if (!bytes) return null;
  let s: Session;
  try {
    s = JSON.parse(new TextDecoder().decode(bytes)) as Session;
  } catch {
    return null;
  }
  if (typeof s.sid !== 'string' || typeof s.exp !== 'number' || s.exp <= now || s.iat > now + 60) return null;
  if (await kv.get(`session:revoked:${s.sid}`)) return null;
  return s;
}

export async function revokeSession(kv: EdgeKv, s: Session, now: number): Promise<void> {
  await kv.put(`session:revoked:${s.sid}`, '1', { expirationTtl: Math.max(KV_MIN_TTL, s.exp - now + 60) });
}

/** The CSRF token for a session: forms carry it in `_csrf`; it is useless without the matching cookie. */
export async function csrfToken(key: HmacKey, sid: string): Promise<string> {
  return hmac(key, `csrf\n${sid}`);
}

export async function csrfValid(key: HmacKey, sid: string, token: unknown): Promise<boolean> {
  return typeof token === 'string' && token.length > 0 && hmacVerify(key, `csrf\n${sid}`, token);
}
