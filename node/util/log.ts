/**
 * @module node/util/log
 * One pino logger for the node; protocols take a child per connection
 * (`proto`, `cid`, `remote`). Secrets never reach a log line: the redact
 * list covers the field names protocols use for them.
 */
import pino from 'pino';

export type Logger = pino.Logger;

/** `fd` 2 keeps logs on stderr so `haven start` can print its banner alone on stdout. */
export function createLogger(level = process.env.HAVEN_LOG_LEVEL ?? 'info', fd: 1 | 2 = 1): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: ['password', 'secret', 'pass', '*.password', '*.secret', 'auth', 'body', 'raw'], censor: '[redacted]' },
    },
    pino.destination(fd),
  );
}

/** A logger that drops everything, for tests and tools. */
export const silentLogger: Logger = pino({ level: 'silent' });

let counter = 0;
/** Short connection ids, unique within the process. */
export function connectionId(): string {
  counter = (counter + 1) % 0x7fffffff;
  return `${process.pid.toString(36)}${counter.toString(36)}`;
}
