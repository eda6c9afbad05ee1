/**
 * @module edge/auth/rate-limit
 * Failed admin logins per client IP, counted in KV: after LOGIN_MAX_FAILURES
 * within LOGIN_WINDOW_SECONDS the IP is refused until the window ends. A
 * success clears the count. KV is eventually consistent between Cloudflare
 * locations, so the limit is approximate across them and exact within one,
 * which is enough to make password guessing hopeless.
 */
import type { EdgeKv } from '../kv.js';

export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_SECONDS = 15 * 60;

interface Counter {
  failures: number;
  /** When the window ends, unix seconds. */
  until: number;
}

const keyOf = (ip: string) => `login:fail:${ip}`;

async function read(kv: EdgeKv, ip: string, now: number): Promise<Counter | null> {
  const raw = await kv.get(keyOf(ip));
  if (!raw) return null;
  try {
    const c = JSON.parse(raw) as Counter;
    return c.until > now ? c : null;
  } catch {
    return null;
  }
}

/** Seconds until the IP may try again, or 0 when it may try now. */
export async function loginBlockedFor(kv: EdgeKv, ip: string, now: number): Promise<number> {
  const c = await read(kv, ip, now);
  return c && c.failures >= LOGIN_MAX_FAILURES ? c.until - now : 0;
}

export async function recordLoginFailure(kv: EdgeKv, ip: string, now: number): Promise<void> {
  const c = (await read(kv, ip, now)) ?? { failures: 0, until: now + LOGIN_WINDOW_SECONDS };
  c.failures++;
  await kv.put(keyOf(ip), JSON.stringify(c), { expirationTtl: Math.max(60, c.until - now) });
}

export async function clearLoginFailures(kv: EdgeKv, ip: string): Promise<void> {
  await kv.delete(keyOf(ip));
}
