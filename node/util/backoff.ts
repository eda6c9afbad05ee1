/**
 * @module node/util/backoff
 * Exponential backoff with ±25% jitter, so retries from many databases or
 * objects after one outage do not arrive at the server in step.
 */

/** Milliseconds to wait before retry number `failures` (1 for the first): min·2^(failures−1), capped at max, jittered. */
export function backoffMs(failures: number, minMs: number, maxMs: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 20));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}
