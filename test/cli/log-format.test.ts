/**
 * The terminal rendering of the node's log lines, fed real pino output
 * (redaction included) captured from the node's logger options.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../node/cli/log-format.js';
import { loggerOptions } from '../../node/util/log.js';

function capture(fn: (log: pino.Logger) => void): string[] {
  const lines: string[] = [];
  const log = pino(loggerOptions('debug'), { write: (l: string) => void lines.push(l) });
  fn(log);
  return lines;
}

describe('formatLogLine', () => {
  it('renders time, level, protocol#connection, message and fields; secrets stay redacted', () => {
    const [line] = capture((log) => log.child({ proto: 'imap', cid: 'a1' }).info({ user: 'alice@example.org', password: 'hunter22', ms: 3 }, 'login ok'));
    const text = formatLogLine(line);
    expect(text).toMatch(/^\d\d:\d\d:\d\d INFO  \[imap#a1\] login ok user=alice@example\.org password=\[redacted\] ms=3\n$/);
    expect(text).not.toContain('hunter22');
  });

  it('shows an error by its message, quotes values with spaces, passes non-JSON through', () => {
    const [line] = capture((log) => log.warn({ err: new Error('disk full'), path: '/var/lib/haven data' }, 'write refused'));
    expect(formatLogLine(line)).toMatch(/^\d\d:\d\d:\d\d WARN  write refused err="disk full" path="\/var\/lib\/haven data"\n$/);
    expect(formatLogLine('not json')).toBe('not json\n');
  });
});
