/**
 * @module node/smtp/srs
 * Sender Rewriting Scheme (SRS0, as libsrs2/postsrsd write it) for mail we
 * forward: the envelope sender becomes an address in our own domain, so the
 * destination's SPF check is against our IP, and a bounce to it can be
 * routed back to the original sender. The hash (HMAC-SHA1, 4 base64 chars)
 * and the day stamp stop anyone from using our SRS addresses as a relay to
 * arbitrary targets, and old addresses expire after 21 days.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const MAX_AGE_DAYS = 21;

export class Srs {
  constructor(private readonly secret: Buffer) {}

  private hash(...parts: string[]): string {
    const h = createHmac('sha1', this.secret);
    for (const p of parts) h.update(p.toLowerCase());
    return h.digest('base64').slice(0, 4);
  }

  private static stamp(now: number): string {
    const day = Math.floor(now / 86_400_000) % 1024;
    return B32[day >> 5] + B32[day & 31];
  }

  private static age(ts: string, now: number): number {
    const t = (B32.indexOf(ts[0].toUpperCase()) << 5) | B32.indexOf(ts[1].toUpperCase());
    const today = Math.floor(now / 86_400_000) % 1024;
    return (today - t + 1024) % 1024;
  }

  /** Rewrites `sender` into `SRS0=hash=ts=domain=local@forwardDomain`. Null senders stay null. */
  forward(sender: string, forwardDomain: string, now = Date.now()): string {
    if (!sender) return '';
    const at = sender.lastIndexOf('@');
    if (at <= 0) return sender;
    const local = sender.slice(0, at);
    const domain = sender.slice(at + 1);
    // Already an SRS address of ours or someone else's: SRS1 chaining is not
    // needed for a single hop, rewriting again keeps the original inside.
    const ts = Srs.stamp(now);
    return `SRS0=${this.hash(ts, domain, local)}=${ts}=${domain}=${local}@${forwardDomain}`;
  }

  /** Whether a local part looks like one of ours (so RCPT can route it). */
  static isSrs(local: string): boolean {
    return /^SRS0[=+-]/i.test(local);
  }

  /** The original sender, or null when the hash is wrong or the address expired. */
  reverse(address: string, now = Date.now()): string | null {
    const at = address.lastIndexOf('@');
    const local = at > 0 ? address.slice(0, at) : address;
    const m = /^SRS0[=+-]([^=]{4})=([A-Z2-7]{2})=([^=]+)=(.+)$/i.exec(local);
    if (!m) return null;
    const [, hash, ts, domain, user] = m;
    const want = Buffer.from(this.hash(ts.toUpperCase(), domain, user));
    const got = Buffer.from(hash);
    // Case-insensitive compare: some MTAs lower-case local parts on the way back.
    if (want.length !== got.length || !timingSafeEqual(Buffer.from(want.toString().toLowerCase()), Buffer.from(got.toString().toLowerCase()))) return null;
    if (Srs.age(ts, now) > MAX_AGE_DAYS) return null;
    return `${user}@${domain}`;
  }
}
