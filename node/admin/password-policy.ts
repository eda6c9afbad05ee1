/**
 * @module node/admin/password-policy
 * The one rule for account passwords, used by every way of setting one (the
 * `haven` CLI, the admin API and the admin UI): in zero-access mode the
 * password's scrypt wrap is all that stands between a stolen disk or
 * replica and the mailbox, so it must be long. No imports, so the edge
 * Worker's bundle can share it.
 */

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/** Null when the password is acceptable, else what to do about it. */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters; choose a longer one (a few unrelated words make a good one)`;
  if (password.length > MAX_PASSWORD_LENGTH) return `a password has at most ${MAX_PASSWORD_LENGTH} characters`;
  return null;
}
