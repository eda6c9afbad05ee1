/**
 * @module node/net/process-policy
 * What the process does with an error nobody caught: log it with its stack,
 * count it in /metrics (haven_unexpected_errors_total), and keep serving.
 * Every socket already has its own error handler (accept.ts) and every
 * command its own catch, so reaching this is a bug to fix, not a reason to
 * drop every other user's session; if the process dies anyway (out of
 * memory, a native fault), systemd's Restart=on-failure starts it again and
 * the edge's outside probe reports the gap.
 */
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { netMetrics } from './metrics.js';

let installed: { log: Logger } | null = null;

/** Installs the policy once per process; a later call only replaces the logger. */
export function installProcessPolicy(log: Logger): void {
  if (installed) {
    installed.log = log;
    return;
  }
  installed = { log };
  const state = installed;
  process.on('uncaughtException', (err, origin) => {
    netMetrics.unexpected.inc({ kind: origin === 'unhandledRejection' ? 'unhandled_rejection' : 'uncaught_exception' });
    reportUnexpected(err);
    state.log.error({ err, origin }, 'uncaught error; the node keeps serving (this is a bug: please report it)');
  });
  process.on('unhandledRejection', (reason) => {
    netMetrics.unexpected.inc({ kind: 'unhandled_rejection' });
    reportUnexpected(reason);
    state.log.error({ err: reason }, 'unhandled promise rejection; the node keeps serving (this is a bug: please report it)');
  });
}
