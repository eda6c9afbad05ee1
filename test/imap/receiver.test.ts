/**
 * Receiver and parser: every request fed whole and split at every byte must
 * give the same commands; limits hold; malformed input is BAD, never a throw
 * of anything else.
 */
import { describe, expect, it } from 'vitest';
import { ImapError } from '../../node/imap/errors.js';
import { parseCommand, type Command } from '../../node/imap/parse.js';
import { Receiver, type ReceiverEvent } from '../../node/imap/receiver.js';

function feed(r: Receiver, chunks: Buffer[]): ReceiverEvent[] {
  const out: ReceiverEvent[] = [];
  for (const c of chunks) {
    r.push(c);
    for (let ev = r.next(); ev; ev = r.next()) out.push(ev);
  }
  return out;
}

const REQUESTS: string[] = [
  'a1 CAPABILITY\r\n',
  'a2 LOGIN {5}\r\nalice {9+}\r\npass word\r\n',
  'a3 SELECT "INBOX" (QRESYNC (67890007 715194045000 41,43:211,214:541))\r\n',
  'a4 UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From "Subject")]<0.100> BINARY[2] MODSEQ) (CHANGEDSINCE 12345 VANISHED)\r\n',
  'a5 APPEND Drafts (\\Seen $Junk) "17-Jul-1996 02:44:25 -0700" {11+}\r\nhello world {3+}\r\nabc\r\n',
  'a6 SEARCH RETURN (MIN COUNT SAVE) CHARSET UTF-8 OR (FROM "bob" SINCE 1-Feb-2026) NOT (UID 1:5,7 TEXT {3}\r\nfoo) MODSEQ 5\r\n',
  'a7 STORE 1:3 (UNCHANGEDSINCE 9) +FLAGS.SILENT (\\Deleted)\r\n',
  'a8 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" %/x*) RETURN (CHILDREN STATUS (MESSAGES SIZE))\r\n',
  'a9 AUTHENTICATE PLAIN AGFsaWNlAHBhc3M=\r\n',
  'b1 SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n',
  'b2 APPEND INBOX ~{4+}\r\n\x00\x01\x02\x03\r\n',
];

describe('receiver', () => {
  it('gives the same requests whole and split at every byte', () => {
    for (const req of REQUESTS) {
      const bytes = Buffer.from(req, 'latin1');
      const whole = feed(new Receiver(), [bytes]);
      const wholeReqs = whole.filter((e) => e.type === 'request');
      expect(wholeReqs).toHaveLength(1);
      for (let i = 1; i < bytes.length; i++) {
        const split = feed(new Receiver(), [bytes.subarray(0, i), bytes.subarray(i)]);
        expect(split.filter((e) => e.type === 'request'), `${req} split at ${i}`).toEqual(wholeReqs);
      }
      // And byte by byte.
      const bytewise = feed(new Receiver(), [...bytes].map((b) => Buffer.from([b])));
      expect(bytewise.filter((e) => e.type === 'request')).toEqual(wholeReqs);
    }
  });

  it('asks for a continuation only for synchronizing literals', () => {
    const ev = feed(new Receiver(), [Buffer.from('a LOGIN {5}\r\nalice {3+}\r\npwd\r\n')]);
    expect(ev.map((e) => e.type)).toEqual(['continue', 'request']);
  });

  it('refuses an oversized synchronizing literal and stays in step', () => {
    const r = new Receiver({ maxLine: 1000, maxLiteral: 10, maxRequest: 100 });
    const ev = feed(r, [Buffer.from('x APPEND INBOX {11}\r\ny NOOP\r\n')]);
    expect(ev[0]).toMatchObject({ type: 'reject', tag: 'x', code: 'TOOBIG', fatal: false });
    expect(ev[1]).toEqual({ type: 'request', parts: ['y NOOP'] });
  });

  it('throws away an oversized non-synchronizing literal with the rest of its command, whole or split at every byte', () => {
    const limits = { maxLine: 100, maxLiteral: 10, maxRequest: 100 };
    const bytes = Buffer.from('x APPEND INBOX {11+}\r\nhello world {3+}\r\nabc\r\ny NOOP\r\n');
    const expected = [
      { type: 'reject', tag: 'x', code: 'TOOBIG', fatal: false, text: 'literal of 11 bytes is over the limit of 10; send a smaller message' },
      { type: 'request', parts: ['y NOOP'] },
    ];
    expect(feed(new Receiver(limits), [bytes])).toEqual(expected);
    for (let i = 1; i < bytes.length; i++) expect(feed(new Receiver(limits), [bytes.subarray(0, i), bytes.subarray(i)]), `split at ${i}`).toEqual(expected);
  });

  it('holds non-synchronizing literals to 4096 bytes under LITERAL-, and refuses them with BAD', () => {
    const r = new Receiver({ maxLine: 1000, maxLiteral: 10_000, maxRequest: 40_000, maxNonSync: 4096 });
    const ev = feed(r, [Buffer.from(`x APPEND INBOX {4097+}\r\n${'a'.repeat(4097)}\r\ny APPEND INBOX {4096+}\r\n${'b'.repeat(4096)}\r\n`)]);
    expect(ev[0]).toMatchObject({ type: 'reject', tag: 'x', code: 'TOOBIG', status: 'BAD', fatal: false });
    expect(ev[1]).toMatchObject({ type: 'request', parts: ['y APPEND INBOX ', Buffer.from('b'.repeat(4096)), ''] });
    // Synchronizing literals of any size up to the limit still ask for "+".
    expect(feed(r, [Buffer.from('z APPEND INBOX {9000}\r\n')])).toEqual([{ type: 'continue', size: 9000 }]);
  });

  it('closes when a refused command would make it discard more than a request may carry, and on a long line', () => {
    const r = new Receiver({ maxLine: 100, maxLiteral: 10, maxRequest: 100 });
    expect(feed(r, [Buffer.from('x APPEND INBOX {101+}\r\n')])[0]).toMatchObject({ type: 'reject', tag: 'x', fatal: true });
    const r1 = new Receiver({ maxLine: 100, maxLiteral: 10, maxRequest: 100 });
    const many = 'x APPEND INBOX {60+}\r\n' + 'a'.repeat(60) + ' {60+}\r\n';
    expect(feed(r1, [Buffer.from(many)])[0]).toMatchObject({ type: 'reject', tag: 'x', fatal: true });
    const r2 = new Receiver({ maxLine: 100, maxLiteral: 10, maxRequest: 100 });
    expect(feed(r2, [Buffer.from('y ' + 'a'.repeat(200))])[0]).toMatchObject({ type: 'reject', tag: 'y', fatal: true });
  });
});

function parse(req: string): Command {
  const ev = feed(new Receiver(), [Buffer.from(req, 'latin1')]).find((e) => e.type === 'request');
  if (!ev || ev.type !== 'request') throw new Error('no request');
  return parseCommand(ev.parts);
}

function badOf(req: string): ImapError {
  try {
    parse(req);
  } catch (err) {
    expect(err).toBeInstanceOf(ImapError);
    return err as ImapError;
  }
  throw new Error(`parsed: ${req}`);
}

describe('parser', () => {
  it('reads literals, quoted strings and atoms', () => {
    expect(parse(REQUESTS[1])).toEqual({ tag: 'a2', name: 'LOGIN', user: 'alice', pass: 'pass word' });
    expect(parse('t LOGIN "a\\"b" x\r\n')).toMatchObject({ user: 'a"b', pass: 'x' });
  });

  it('reads SELECT with QRESYNC', () => {
    expect(parse(REQUESTS[2])).toMatchObject({
      name: 'SELECT',
      mailbox: 'INBOX',
      qresync: { uidValidity: 67890007, modseq: 715194045000, knownUids: { kind: 'set', ranges: [[41, 41], [43, 211], [214, 541]] } },
    });
  });

  it('reads FETCH items, sections, partials and modifiers', () => {
    const c = parse(REQUESTS[3]);
    expect(c).toMatchObject({ name: 'FETCH', uid: true, changedSince: 12345, vanished: true });
    if (c.name !== 'FETCH') throw new Error();
    expect(c.atts).toEqual([
      { kind: 'FLAGS' },
      { kind: 'BODY[]', peek: true, section: { path: [1, 2], text: 'HEADER.FIELDS', fields: ['from', 'subject'] }, partial: { start: 0, length: 100 } },
      { kind: 'BINARY[]', peek: false, section: { path: [2] } },
      { kind: 'MODSEQ' },
    ]);
    expect(parse('x FETCH 1 ALL\r\n')).toMatchObject({ atts: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }] });
  });

  it('reads MULTIAPPEND with flags, dates and binary literals', () => {
    const c = parse(REQUESTS[4]);
    if (c.name !== 'APPEND') throw new Error();
    expect(c.messages.map((m) => [m.flags, m.date, m.data.toString()])).toEqual([
      [['\\Seen', '$Junk'], Date.UTC(1996, 6, 17, 9, 44, 25), 'hello world'],
      [[], null, 'abc'],
    ]);
    const b = parse(REQUESTS[10]);
    if (b.name !== 'APPEND') throw new Error();
    expect(b.messages[0]).toMatchObject({ binary: true, data: Buffer.from([0, 1, 2, 3]) });
  });

  it('reads nested search programs', () => {
    const c = parse(REQUESTS[5]);
    expect(c).toMatchObject({
      name: 'SEARCH',
      returns: ['MIN', 'COUNT', 'SAVE'],
      key: {
        op: 'and',
        keys: [
          {
            op: 'or',
            a: { op: 'and', keys: [{ op: 'header', field: 'from', value: 'bob' }, { op: 'date', cmp: 'since', day: Date.UTC(2026, 1, 1) }] },
            b: { op: 'not', key: { op: 'and', keys: [{ op: 'uid' }, { op: 'text', body: false, value: 'foo' }] } },
          },
          { op: 'modseq', modseq: 5 },
        ],
      },
    });
  });

  it('reads STORE, LIST-EXTENDED, AUTHENTICATE and SORT', () => {
    expect(parse(REQUESTS[6])).toMatchObject({ name: 'STORE', mode: 'add', silent: true, flags: ['\\Deleted'], unchangedSince: 9 });
    expect(parse(REQUESTS[7])).toMatchObject({
      name: 'LIST',
      selection: ['SUBSCRIBED', 'RECURSIVEMATCH'],
      patterns: ['INBOX', '%/x*'],
      returns: { children: true, status: ['MESSAGES', 'SIZE'] },
    });
    expect(parse(REQUESTS[8])).toMatchObject({ name: 'AUTHENTICATE', mechanism: 'PLAIN', initial: 'AGFsaWNlAHBhc3M=' });
    expect(parse(REQUESTS[9])).toMatchObject({ name: 'SORT', criteria: [{ key: 'DATE', reverse: true }, { key: 'SUBJECT', reverse: false }] });
  });

  it('answers malformed input with BAD carrying the tag', () => {
    for (const req of ['x FETCH 1:a FLAGS\r\n', 'x FETCH 0 FLAGS\r\n', 'x FROB\r\n', 'x UID NOOP\r\n', 'x STORE 1 FLAGS (\\Seen\r\n', 'x SEARCH OR SEEN\r\n', 'x LOGIN "unterminated\r\n', 'x SELECT\r\n']) {
      const e = badOf(req);
      expect(e.status, req).toBe('BAD');
      expect(e.tag, req).toBe('x');
    }
    expect(badOf('x SEARCH ' + 'NOT '.repeat(100) + 'ALL\r\n').message).toMatch(/too deep/);
    expect(badOf('x SEARCH CHARSET KOI8-R ALL\r\n')).toMatchObject({ status: 'NO', code: 'BADCHARSET (UTF-8 US-ASCII)' });
  });
});
