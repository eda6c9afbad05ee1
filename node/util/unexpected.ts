/**
 * @module node/util/unexpected
 * A process-wide record of errors that reached a protocol session's
 * catch-all. The test setup fails any test that leaves one behind; in
 * production the record stays empty because nothing is collected unless
 * `collectUnexpected` is on (set by the test setup through the env flag).
 */
const seen: Error[] = [];
const collecting = process.env.VITEST === 'true';

export function reportUnexpected(err: unknown): void {
  if (!collecting) return;
  seen.push(err instanceof Error ? err : new Error(String(err)));
}

export function takeUnexpected(): Error[] {
  return seen.splice(0, seen.length);
}
