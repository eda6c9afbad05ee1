/**
 * The strict response checker (checker.ts) catches what it claims to, fed
 * transcripts written by hand from the RFC rules it enforces; split at every
 * byte it must read the same.
 */
import { describe, expect, it } from 'vitest';
import { ResponseChecker } from './checker.js';

function check(lines: string, opts: { rev2?: boolean; split?: boolean } = {}): string[] {
  const c = new ResponseChecker({ rev2: opts.rev2 });
  c.command('SELECT INBOX');
  if (opts.split) for (const ch of lines) c.feed(ch);
  else c.feed(lines);
  return c.violations;
}

const SELECT = '* 2 EXISTS\r\n* FLAGS (\\Seen \\Deleted $Known)\r\n';

describe('ResponseChecker', () => {
  it('accepts a consistent transcript, literals and all, whole or split at every byte', () => {
    const t =
      SELECT +
      '* 1 FETCH (UID 4 FLAGS (\\Seen $Known) BODY[] {13}\r\n* 9 FETCH (\r\n)\r\n' +
      '* FLAGS (\\Seen \\Deleted $Known $New)\r\n* 2 FETCH (UID 7 FLAGS ($new))\r\n' +
      '* 3 EXISTS\r\n* 1 EXPUNGE\r\n* 2 FETCH (UID 9 FLAGS ())\r\nA OK done\r\n';
    expect(check(t)).toEqual([]);
    expect(check(t, { split: true })).toEqual([]);
  });

  it('flags a keyword in FETCH FLAGS that no FLAGS announced (RFC 9051 §7.3.5)', () => {
    expect(check(SELECT + '* 1 FETCH (FLAGS ($Label1))\r\n')).toEqual(['keyword $Label1 in FETCH not announced in FLAGS: * 1 FETCH (FLAGS ($Label1))']);
  });

  it('flags message numbers out of range and an EXISTS that lowers the count (RFC 9051 §7.4.1, §5.2)', () => {
    expect(check(SELECT + '* 3 FETCH (FLAGS ())\r\n')).toHaveLength(1);
    expect(check(SELECT + '* 3 EXPUNGE\r\n')).toHaveLength(1);
    expect(check(SELECT + '* 1 EXPUNGE\r\n* 2 FETCH (FLAGS ())\r\n')).toHaveLength(1);
    expect(check(SELECT + '* 1 EXISTS\r\n')).toHaveLength(1);
  });

  it('flags a UID that contradicts the view, and \\Recent for an IMAP4rev2 session', () => {
    expect(check(SELECT + '* 1 FETCH (UID 5)\r\n* 1 FETCH (UID 6)\r\n')).toHaveLength(1);
    expect(check(SELECT + '* 2 FETCH (UID 5)\r\n* 1 FETCH (UID 6)\r\n')).toHaveLength(1);
    expect(check(SELECT + '* 1 FETCH (FLAGS (\\Recent))\r\n', { rev2: true })).toHaveLength(1);
    expect(check(SELECT + '* 1 FETCH (FLAGS (\\Recent))\r\n')).toEqual([]);
    expect(check(SELECT + '* 2 RECENT\r\n')).toEqual([]);
    expect(check(SELECT + '* 3 RECENT\r\n')).toHaveLength(1);
    expect(check(SELECT + '* 0 RECENT\r\n', { rev2: true })).toHaveLength(1);
  });
});
