/**
 * @module node/util/loopback
 * Whether an address is this machine's own (127.0.0.0/8, ::1, or 127.x seen
 * through an IPv4-mapped IPv6 socket): the places where a local run may relax
 * a rule (plaintext AUTH for local clients, the local admin UI) ask here.
 */
const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export function isLoopback(ip: string): boolean {
  return LOOPBACK.test(ip);
}
