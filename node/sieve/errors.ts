/**
 * @module node/sieve/errors
 * Script errors. A syntax or validation error is found when a script is
 * stored (ManageSieve answers NO with it) and names the line and column; a
 * runtime error (a missing include, too many actions) stops the script at
 * delivery, and the message is kept in INBOX.
 */
export interface Position {
  line: number;
  column: number;
}

export class SieveError extends Error {}

/** Found by the lexer, parser or validator: the script cannot run at all. */
export class SieveSyntaxError extends SieveError {
  constructor(
    readonly reason: string,
    readonly pos: Position,
  ) {
    super(`line ${pos.line}, column ${pos.column}: ${reason}`);
    this.name = 'SieveSyntaxError';
  }
}

/** Raised while a script runs (RFC 5228 §2.10.6 "run-time errors"): the implicit keep applies. */
export class SieveRuntimeError extends SieveError {
  constructor(message: string) {
    super(message);
    this.name = 'SieveRuntimeError';
  }
}
