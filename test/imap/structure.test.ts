/**
 * BODYSTRUCTURE and ENVELOPE on tricky MIME (test/fixtures/mime): nested
 * multiparts with RFC 2231 parameters, message/rfc822 parts (multipart and
 * single), 8-bit headers and encoded words, a multipart missing its close
 * delimiter. Expected values written by hand from RFC 9051 §7.5.2; sizes
 * counted on the fixture bytes; line counts as Dovecot counts them (LFs).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
let raw: Raw;
const NAMES = ['nested', 'rfc822', '8bit', 'missing-close'];
beforeAll(async () => {
  f = await startFixture();
  raw = await Raw.connect(f.port);
  await login(raw, f);
  for (const n of NAMES) {
    const m = readFileSync(`test/fixtures/mime/${n}.eml`);
    raw.write(`a APPEND INBOX {${m.length}+}\r\n`);
    raw.write(m);
    raw.write('\r\n');
    await raw.reply('a');
  }
  await raw.cmd('s', 'SELECT INBOX');
});
afterAll(async () => {
  raw.close();
  await f.close();
});

const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const fetch = async (seq: number, item: string) => {
  const r = await raw.cmd('f', `FETCH ${seq} (${item})`);
  expect(r.endsWith('f OK FETCH completed\r\n')).toBe(true);
  return r.slice(0, r.length - 'f OK FETCH completed\r\n'.length);
};

describe('BODYSTRUCTURE', () => {
  it('nested multiparts with RFC 2231 parameters', async () => {
    expect(await fetch(1, 'BODYSTRUCTURE')).toBe(
      '* 1 FETCH (UID 1 BODYSTRUCTURE ((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 11 0 NIL NIL NIL NIL)' +
        '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 35 0 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)' +
        utf8('("APPLICATION" "PDF" ("NAME" {14}\r\n€ report.pdf) "<pdf@example.org>" "The report" "BASE64" 12 NIL ("ATTACHMENT" ("FILENAME" {11}\r\nGrüße.pdf)) NIL NIL)') +
        ' "MIXED" ("BOUNDARY" "outer") NIL NIL NIL))\r\n',
    );
    expect(await fetch(1, 'BODY')).toBe(
      '* 1 FETCH (UID 1 BODY ((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 11 0)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 35 0) "ALTERNATIVE")' +
        utf8('("APPLICATION" "PDF" ("NAME" {14}\r\n€ report.pdf) "<pdf@example.org>" "The report" "BASE64" 12) "MIXED"))\r\n'),
    );
  });

  it('message/rfc822 parts carry their envelope, structure and lines', async () => {
    expect(await fetch(2, 'BODYSTRUCTURE')).toBe(
      '* 2 FETCH (UID 2 BODYSTRUCTURE (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 13 0 NIL NIL NIL NIL)' +
        '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 295 ("Wed, 2 Jul 2003 11:00:00 +0000" "lunch" (("Grace" NIL "grace" "example.com")) (("Grace" NIL "grace" "example.com")) (("Grace" NIL "grace" "example.com")) (("Eve" NIL "eve" "example.com")) NIL NIL NIL "<inner@example.com>")' +
        ' (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 0 NIL NIL NIL NIL)("TEXT" "HTML" NIL NIL NIL "7BIT" 12 0 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "b2") NIL NIL NIL) 15 NIL NIL NIL NIL)' +
        '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 29 (NIL "single" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)' +
        ' "MIXED" ("BOUNDARY" "b1") NIL NIL NIL))\r\n',
    );
    // Sections inside the enclosed message: 2.1 is its first part, 2.HEADER its header, 3.1 the single body.
    expect(await fetch(2, 'BODY.PEEK[2.1] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)] BODY.PEEK[3.1] BODY.PEEK[3.TEXT]')).toBe(
      '* 2 FETCH (UID 2 BODY[2.1] {5}\r\nNoon? BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: lunch\r\n\r\n BODY[3.1] {10}\r\nJust text. BODY[3.TEXT] {10}\r\nJust text.)\r\n',
    );
  });

  it('8-bit headers and encoded words in the envelope', async () => {
    expect(await fetch(3, 'ENVELOPE BODYSTRUCTURE')).toBe(
      utf8(
        '* 3 FETCH (UID 3 ENVELOPE (NIL {7}\r\nGrüße (({6}\r\nAndré NIL "andre" "example.com")) (({6}\r\nAndré NIL "andre" "example.com")) (({6}\r\nAndré NIL "andre" "example.com"))' +
          ' (({5}\r\nJörg NIL "jorg" "example.com")) (({5}\r\nRené NIL "rene" "example.com")) NIL NIL NIL)' +
          ' BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 27 2 NIL NIL NIL NIL))\r\n',
      ),
    );
  });

  it('a multipart without its close delimiter keeps both parts', async () => {
    const r = await fetch(4, 'BODYSTRUCTURE BODY.PEEK[2]');
    expect(r).toBe(
      '* 4 FETCH (UID 4 BODYSTRUCTURE (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 0 NIL NIL NIL NIL)("TEXT" "PLAIN" NIL NIL NIL "7BIT" 38 1 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "xyz") NIL NIL NIL)' +
        ' BODY[2] {38}\r\nsecond, and then the message was cut\r\n)\r\n',
    );
  });
});
