/**
 * The ManageSieve receiver (RFC 5804 §4): requests with atoms, quoted
 * strings and literals come out the same whichever way the bytes are split.
 */
import { describe, expect, it } from 'vitest';
import { Receiver, type Received } from '../../node/managesieve/receiver.js';
import { parseCommand } from '../../node/managesieve/parse.js';

const input = Buffer.from('PUTSCRIPT "my \\"script\\"" {12+}\r\nkeep;\r\nstop;\r\nNOOP\r\nHAVESPACE "a" 500\r\nCHECKSCRIPT {5}\r\nkeep;\r\n');

function feed(chunks: Buffer[]): Received[] {
  const r = new Receiver({ maxLine: 1000, maxLiteral: 100 });
  return chunks.flatMap((c) => r.push(c));
}

describe('receiver', () => {
  const whole = feed([input]);
  it('reads quoted strings with escapes and literals (both {N+} and {N})', () => {
    expect(whole.map((x) => (x.kind === 'request' ? parseCommand(x.tokens) : x))).toEqual([
      { verb: 'PUTSCRIPT', name: 'my "script"', script: 'keep;\r\nstop;' },
      { verb: 'NOOP', tag: null },
      { verb: 'HAVESPACE', name: 'a', size: 500 },
      { verb: 'CHECKSCRIPT', script: 'keep;' },
    ]);
  });
  it('gives the same requests when split at every byte', () => {
    for (let i = 1; i < input.length; i++) expect(feed([input.subarray(0, i), input.subarray(i)])).toEqual(whole);
    expect(feed([...input].map((b) => Buffer.from([b])))).toEqual(whole);
  });
  it('skips an oversized literal without buffering it, then goes on', () => {
    const r = new Receiver({ maxLine: 1000, maxLiteral: 10 });
    const out = [...r.push(Buffer.from('PUTSCRIPT "x" {20+}\r\n0123456789')), ...r.push(Buffer.from('0123456789\r\nNOOP\r\n'))];
    expect(out[0]).toMatchObject({ kind: 'bad', fatal: false });
    expect(out[1]).toEqual({ kind: 'request', tokens: [{ kind: 'atom', value: 'NOOP' }] });
  });
  it('skips a literal the memory budget refuses while it arrives, as a temporary refusal, then goes on', () => {
    let admit = false;
    const r = new Receiver({ maxLine: 1000, maxLiteral: 100, admit: () => admit });
    const out = [...r.push(Buffer.from('PUTSCRIPT "x" {20+}\r\n0123456789')), ...r.push(Buffer.from('0123456789\r\nNOOP\r\n'))];
    expect(out[0]).toEqual({ kind: 'bad', reason: 'the server is short of memory right now; try again in a few minutes', fatal: false, tooBig: true, tryLater: true });
    expect(out[1]).toEqual({ kind: 'request', tokens: [{ kind: 'atom', value: 'NOOP' }] });
    // A literal whose octets are all here already costs nothing more to take.
    expect(r.push(Buffer.from('CHECKSCRIPT {5+}\r\nkeep;\r\n'))).toEqual([{ kind: 'request', tokens: [{ kind: 'atom', value: 'CHECKSCRIPT' }, { kind: 'string', value: 'keep;' }] }]);
    admit = true;
    expect(r.push(Buffer.from('CHECKSCRIPT {5+}\r\nke')).concat(r.push(Buffer.from('ep;\r\n')))).toEqual([{ kind: 'request', tokens: [{ kind: 'atom', value: 'CHECKSCRIPT' }, { kind: 'string', value: 'keep;' }] }]);
  });

  it('reports an endless line once, as fatal', () => {
    const r = new Receiver({ maxLine: 100, maxLiteral: 10 });
    expect(r.push(Buffer.alloc(500, 0x41))).toEqual([{ kind: 'bad', reason: 'line too long', fatal: true }]);
  });
});

describe('random bytes', () => {
  it('never throw, whatever the client sends (seeded)', async () => {
    const { rng } = await import('../helpers/rng.js');
    const rand = rng(4190);
    const pieces = ['{', '}', '+', '5', '999', '"', '\\', '\r', '\n', '\r\n', 'NOOP', ' ', 'a', '\0', '{3+}\r\nabc', '{2}\n'];
    for (let n = 0; n < 500; n++) {
      const r = new Receiver({ maxLine: 64, maxLiteral: 16 });
      for (let i = 0; i < 40; i++) {
        const out = r.push(Buffer.from(pieces[Math.floor(rand() * pieces.length)]));
        for (const x of out) if (x.kind === 'request') expect(() => parseCommand(x.tokens)).not.toThrow(TypeError);
      }
    }
  });
});
