/**
 * Bounded fuzzing of the receiver and parser: random and mutated requests
 * (fixed seed, a few seconds at most) must only ever yield commands or
 * ImapError, never another exception and never a hang.
 */
import { describe, expect, it } from 'vitest';
import { ImapError } from '../../node/imap/errors.js';
import { parseCommand } from '../../node/imap/parse.js';
import { Receiver } from '../../node/imap/receiver.js';

const SEEDS = [
  'a FETCH 1:*,3 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From)]<0.10> BINARY[1] MODSEQ) (CHANGEDSINCE 5 VANISHED)',
  'b SEARCH RETURN (MIN SAVE) CHARSET UTF-8 OR (FROM "x" SINCE 1-Jan-2020) NOT UID $ HEADER X-A "b" MODSEQ 3',
  'c SELECT INBOX (QRESYNC (1 2 1:3 (1,2 3,4)))',
  'd APPEND "a b" (\\Seen) "01-Jan-2020 00:00:00 +0000" {3+}\r\nabc',
  'e LIST (SUBSCRIBED) "" ("*" %) RETURN (STATUS (MESSAGES SIZE) CHILDREN)',
  'f STORE 1:2 (UNCHANGEDSINCE 4) -FLAGS.SILENT (\\Deleted $x)',
  'g SORT (REVERSE ARRIVAL SUBJECT) UTF-8 ALL',
  'h THREAD REFERENCES UTF-8 (TEXT "x")',
  'i AUTHENTICATE PLAIN =',
  'j ID ("a" NIL "b" "c")',
  'k NOTIFY SET (SELECTED (MessageNew MessageExpunge))',
  'm NOTIFY SET STATUS (SELECTED-DELAYED (MessageNew (UID BODY.PEEK[HEADER]) MessageExpunge FlagChange)) (SUBTREE (INBOX "a b") (MessageNew MessageExpunge MailboxName)) (PERSONAL NONE)',
  'n APPEND INBOX UTF8 (~{3+}\r\nabc)',
  'l CREATE x (USE (\\Sent))',
];
const ALPHABET = ' ()[]{}<>"\\*%$:,.+-~0123456789ABCXYZabcxyz\r\n\x00\xff';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

function mutate(r: () => number, s: string): string {
  const a = [...s];
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const p = Math.floor(r() * (a.length + 1));
    const op = r();
    const ch = ALPHABET[Math.floor(r() * ALPHABET.length)];
    if (op < 0.4) a.splice(p, 1);
    else if (op < 0.8) a.splice(p, 0, ch);
    else a.splice(p, 0, ...a.slice(p, p + Math.floor(r() * 20)));
  }
  return a.join('');
}

describe('fuzz', () => {
  it('never throws anything but ImapError and never hangs', () => {
    const r = rng(20261128);
    const started = Date.now();
    let parsed = 0;
    let rejected = 0;
    for (let i = 0; i < 20_000 && Date.now() - started < 2500; i++) {
      const base = SEEDS[i % SEEDS.length];
      const text = r() < 0.1 ? Array.from({ length: Math.floor(r() * 80) }, () => ALPHABET[Math.floor(r() * ALPHABET.length)]).join('') : mutate(r, base);
      const rec = new Receiver({ maxLine: 4096, maxLiteral: 4096, maxRequest: 8192 });
      rec.push(Buffer.from(text + '\r\n', 'latin1'));
      // Literals may be announced but never arrive: feed enough to finish.
      rec.push(Buffer.alloc(64, 0x61));
      rec.push(Buffer.from('\r\n'));
      for (let ev = rec.next(), guard = 0; ev && guard < 100; ev = rec.next(), guard++) {
        if (ev.type !== 'request') continue;
        try {
          parseCommand(ev.parts);
          parsed++;
        } catch (err) {
          if (!(err instanceof ImapError)) throw new Error(`non-ImapError for ${JSON.stringify(text)}: ${(err as Error).stack}`);
          rejected++;
        }
      }
    }
    expect(parsed).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });
});
