/**
 * @module test/pop3/wire
 * The pure layers alone: the receiver fed whole and split at every byte, the
 * parser, and the wire encoding of messages (CRLF, byte-stuffing, TOP).
 */
import { describe, expect, it } from 'vitest';
import { Pop3Error } from '../../node/pop3/errors.js';
import { parseCommand, UnknownCommandError } from '../../node/pop3/parse.js';
import { Receiver, type Received } from '../../node/pop3/receiver.js';
import { fail, messageResponse, multiline, wireMessage } from '../../node/pop3/respond.js';

function feed(input: Buffer, max: number, split: number[]): Received[] {
  const r = new Receiver(max);
  const out: Received[] = [];
  let at = 0;
  for (const s of [...split, input.length]) {
    out.push(...r.push(input.subarray(at, s)));
    at = s;
  }
  return out;
}

describe('receiver', () => {
  const input = Buffer.from('USER alice\r\nPASS p ä ss\r\nSTAT\nNOOP\r\n' + 'X'.repeat(40) + '\r\nQUIT\r\npartial');
  const expected: Received[] = [
    { kind: 'line', text: 'USER alice' },
    { kind: 'line', text: 'PASS p ä ss' },
    { kind: 'line', text: 'STAT' },
    { kind: 'line', text: 'NOOP' },
    { kind: 'overlong' },
    { kind: 'line', text: 'QUIT' },
  ];

  it('yields the same lines whole and split at every byte, and one overlong marker', () => {
    expect(feed(input, 32, [])).toEqual(expected);
    for (let i = 1; i < input.length; i++) expect(feed(input, 32, [i]), `split at ${i}`).toEqual(expected);
    expect(feed(input, 32, Array.from({ length: input.length - 1 }, (_, i) => i + 1))).toEqual(expected);
  });

  it('never buffers an endless line', () => {
    const r = new Receiver(64);
    for (let i = 0; i < 1000; i++) expect(r.push(Buffer.alloc(1024, 0x41))).toEqual([]);
    expect(r.push(Buffer.from('\r\nNOOP\r\n'))).toEqual([{ kind: 'overlong' }, { kind: 'line', text: 'NOOP' }]);
  });

  it('forgets buffered bytes on reset (nothing from before STLS survives)', () => {
    const r = new Receiver(64);
    r.push(Buffer.from('DELE 1'));
    r.reset();
    expect(r.push(Buffer.from('\r\n'))).toEqual([{ kind: 'line', text: '' }]);
  });
});

describe('parser', () => {
  it('parses every verb, case-insensitively', () => {
    expect(parseCommand('user alice@example.test')).toEqual({ verb: 'USER', name: 'alice@example.test' });
    expect(parseCommand('PASS  two  spaces ')).toEqual({ verb: 'PASS', secret: ' two  spaces ' });
    expect(parseCommand('auth plain AGEAYg==')).toEqual({ verb: 'AUTH', mechanism: 'PLAIN', initial: 'AGEAYg==' });
    expect(parseCommand('AUTH')).toEqual({ verb: 'AUTH', mechanism: null, initial: null });
    expect(parseCommand('list')).toEqual({ verb: 'LIST', msg: null });
    expect(parseCommand('LIST 3')).toEqual({ verb: 'LIST', msg: 3 });
    expect(parseCommand('UIDL 2')).toEqual({ verb: 'UIDL', msg: 2 });
    expect(parseCommand('Top 1 0')).toEqual({ verb: 'TOP', msg: 1, lines: 0 });
    expect(parseCommand('RETR 12')).toEqual({ verb: 'RETR', msg: 12 });
    expect(parseCommand('DELE 1')).toEqual({ verb: 'DELE', msg: 1 });
    for (const v of ['CAPA', 'STLS', 'STAT', 'NOOP', 'RSET', 'QUIT']) expect(parseCommand(v.toLowerCase())).toEqual({ verb: v });
  });

  it('refuses bad arguments and unknown verbs with a Pop3Error', () => {
    for (const bad of ['RETR', 'RETR 0', 'RETR x', 'RETR 1 2', 'RETR 99999999999', 'TOP 1', 'TOP 1 -1', 'STAT 1', 'USER', 'PASS', 'LIST 1 2', 'DELE -1']) {
      expect(() => parseCommand(bad), bad).toThrow(Pop3Error);
    }
    expect(() => parseCommand('APOP x y')).toThrow(UnknownCommandError);
    expect(() => parseCommand('')).toThrow(UnknownCommandError);
  });
});

describe('wire encoding', () => {
  const text = (m: ReturnType<typeof wireMessage>) => Buffer.concat(m.body).toString();

  it('passes a CRLF message through unchanged', () => {
    const raw = Buffer.from('Subject: x\r\n\r\nhello\r\nworld\r\n');
    const m = wireMessage(raw);
    expect(text(m)).toBe(raw.toString());
    expect(m.octets).toBe(raw.length);
  });

  it('byte-stuffs lines starting with a dot and normalizes bare LF', () => {
    const raw = Buffer.from('Subject: x\n\n.\n..two\r\nmid.dle\n.end');
    const m = wireMessage(raw);
    expect(text(m)).toBe('Subject: x\r\n\r\n..\r\n...two\r\nmid.dle\r\n..end\r\n');
    expect(m.octets).toBe('Subject: x\r\n\r\n.\r\n..two\r\nmid.dle\r\n.end\r\n'.length);
    expect(messageResponse(m).toString()).toBe(`+OK ${m.octets} octets\r\nSubject: x\r\n\r\n..\r\n...two\r\nmid.dle\r\n..end\r\n.\r\n`);
  });

  it('TOP sends the header, the blank line and n body lines', () => {
    const raw = Buffer.from('A: 1\r\nB: 2\r\n\r\none\r\n.two\r\nthree\r\n');
    expect(text(wireMessage(raw, 0))).toBe('A: 1\r\nB: 2\r\n\r\n');
    expect(text(wireMessage(raw, 1))).toBe('A: 1\r\nB: 2\r\n\r\none\r\n');
    expect(text(wireMessage(raw, 2))).toBe('A: 1\r\nB: 2\r\n\r\none\r\n..two\r\n');
    expect(text(wireMessage(raw, 99))).toBe(raw.toString().replace('.two', '..two'));
    expect(text(wireMessage(Buffer.from('A: 1\nB: 2'), 0))).toBe('A: 1\r\nB: 2\r\n');
  });

  it('status lines cannot be split by caller text', () => {
    expect(fail(new Pop3Error('IN-USE', 'a\r\nb')).toString()).toBe('-ERR [IN-USE] a b\r\n');
    expect(multiline('x', ['.dot', 'ok']).toString()).toBe('+OK x\r\n..dot\r\nok\r\n.\r\n');
  });
});
