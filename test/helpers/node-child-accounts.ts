/**
 * @module test/helpers/node-child-accounts
 * What a node in a child process (node-child.ts) is started with and the
 * accounts it creates: shared by the launcher, the child's entry and the
 * tests that log in to it (apart from the launcher, which the child must not import).
 */
export const NODE_CHILD_ACCOUNTS = {
  alice: { address: 'alice@example.org', password: 'alice-password-1' },
  bob: { address: 'bob@example.org', password: 'bob-password-1' },
};

export interface NodeChildOptions {
  /** Config overrides on top of testConfig (dnsbl is empty unless given). */
  config?: Record<string, unknown>;
  /** Where the node logs (JSON lines at info level); without it, startNode's default logger. */
  logFile?: string;
  /** Install the process policy `haven start` installs (needs logFile). */
  processPolicy?: boolean;
  /** .ics files stored into alice's default calendar through the store, bypassing the PUT checks. */
  seeds?: string[];
}
