/**
 * @module node/util/log
 * One pino logger for the node; protocols take a child per connection
 * (`proto`, `cid`, `remote`). Secrets never reach a log line: the redact
 * list covers the field names protocols use for them.
 */
import pino from 'pino';

export type Logger = pino.Logger;

/** Field names that carry a secret or a message's content, wherever a protocol logs them. */
const SECRET_FIELDS = [
  'password',
  'pass',
  'newPassword',
  'secret',
  'auth',
  'authorization',
  'cookie',
  'token',
  'recoveryKey',
  'appPassword',
  'masterKey',
  'keyAuthorization',
  'privateKey',
  'privateKeyPem',
  'body',
  'raw',
  'line',
  'transcript',
];

/**
 * pino redact paths: each field at the top level, one and two levels down
 * (`{ session: { auth: … } }`, `{ req: { headers: { authorization } } }`),
 * and the HTTP header forms.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'headers["set-cookie"]',
  '*.headers["set-cookie"]',
];

/** The options every node logger uses; exported so a test can check the redaction on a captured stream. */
export function loggerOptions(level: string): pino.LoggerOptions {
  return { level, base: undefined, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } };
}

/** `fd` 2 keeps logs on stderr so `haven start` can print its banner alone on stdout. */
export function createLogger(level = process.env.HAVEN_LOG_LEVEL ?? 'info', fd: 1 | 2 = 1): Logger {
  return pino(loggerOptions(level), pino.destination(fd));
}

/** A logger that drops everything, for tests and tools. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * A client-supplied name (a login's user name) as it may appear in a log
 * line: at most `max` characters, with the full length noted, so a client
 * cannot grow the log by whatever it sends.
 */
export function clip(s: string, max = 64): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(${s.length} chars)`;
}

let counter = 0;
/** Short connection ids, unique within the process. */
export function connectionId(): string {
  counter = (counter + 1) % 0x7fffffff;
  return `${process.pid.toString(36)}${counter.toString(36)}`;
}
