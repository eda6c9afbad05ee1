/**
 * @module node/config/errors
 * The one error a bad configuration produces: every problem found, one line
 * each, so an operator fixes them all in one pass instead of one per start.
 */

export interface ConfigProblem {
  /** Dotted option path ("ports.imap"), or the unknown key / variable. */
  readonly option: string;
  /** The option's environment variable, when it is a known option. */
  readonly env?: string;
  /** The line shown to the operator. */
  readonly message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map((p) => p.message).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
