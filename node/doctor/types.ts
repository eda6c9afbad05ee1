/**
 * @module node/doctor/types
 * What `haven doctor` reports: one result per check, each OK, WARN or FAIL
 * with what was found and, unless OK, how to fix it. The CLI prints it, the
 * admin API returns it as JSON; both get it from `runDoctor`.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Stable key, e.g. "spf:example.com", "ptr:ipv6", "dnsbl:203.0.113.10". */
  id: string;
  /** Short human name: "SPF for example.com". */
  title: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about it (absent when OK). */
  fix?: string;
}

export interface DoctorReport {
  /** No check failed (warnings allowed). */
  ok: boolean;
  summary: Record<CheckStatus, number>;
  checks: DoctorCheck[];
  /** ISO time the report was made. */
  at: string;
}

export function ok(id: string, title: string, detail: string): DoctorCheck {
  return { id, title, status: 'ok', detail };
}

export function warn(id: string, title: string, detail: string, fix: string): DoctorCheck {
  return { id, title, status: 'warn', detail, fix };
}

export function fail(id: string, title: string, detail: string, fix: string): DoctorCheck {
  return { id, title, status: 'fail', detail, fix };
}
