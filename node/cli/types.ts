/**
 * @module node/cli/types
 * The shape every `haven` command has: a name of one or more words, a
 * one-line summary, a usage line, its own options and parameters, and
 * `run(args, io)`. Commands write only through `io`, so a test runs them
 * in-process with captured output and the real binary runs the same code.
 */

/** Where a command reads and writes; `processIo()` for the real binary, `memoryIo()` for tests. */
export interface CliIo {
  /** Writes one line (a newline is added) to standard output. */
  out(line: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
  /** Asks a question on the terminal; `hidden` does not echo what is typed (passwords). */
  prompt(question: string, opts?: { hidden?: boolean }): Promise<string>;
  /** All of standard input as text (for --password-stdin). */
  readStdin(): Promise<string>;
  /** Standard input is a terminal a person can answer prompts on. */
  readonly interactive: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Resolves with the signal's name when the process is asked to stop (SIGTERM, SIGINT). */
  waitForStop(): Promise<string>;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder in help: `--password <password>`. */
  value?: string;
  help: string;
}

/** `--json`: the machine-readable form every listing and report command offers. */
export const JSON_OPTION: OptionSpec = { type: 'boolean', help: 'Print JSON instead of text.' };

export interface Args {
  /** Named single-word parameters ('address', 'label?'). */
  params: Record<string, string | undefined>;
  /** The words of the variadic parameter ('targets...'), if the command has one. */
  rest: string[];
  flags: Record<string, string | boolean | string[] | undefined>;
  /** `--config <path>` when given (global). */
  configFile?: string;
}

export interface Command {
  /** One or more words: 'start', 'account add'. */
  name: string;
  summary: string;
  /** Shown in --help after the summary: what else a user should know. */
  details?: string;
  /**
   * Positional parameters: 'address' (required), 'label?' (optional),
   * 'targets...' (one or more, last only), 'targets...?' (zero or more).
   */
  params?: readonly string[];
  options?: Readonly<Record<string, OptionSpec>>;
  /** Returns the exit code (0 when nothing is returned). */
  run(args: Args, io: CliIo): Promise<number | void>;
}

/** A mistake in how a command was called: exit 2 and a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A command could not do its work for a reason the user can fix; exit 1. */
export class CommandError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Exit codes, sysexits-style where one exists, so scripts and systemd can tell them apart. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** An unexpected error (a bug): EX_SOFTWARE. */
  software: 70,
  /** A bad configuration value: EX_CONFIG (systemd units can refuse to restart on it). */
  config: 78,
} as const;
