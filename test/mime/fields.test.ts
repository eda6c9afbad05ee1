/**
 * @module test/mime/fields
 * The field-level rules on their own: RFC 5256 §2.1 base subjects (cases
 * from the RFC's grammar), RFC 5322 address lists as IMAP envelopes,
 * dates, message ids, and Content-Type parameters (RFC 2045, RFC 2231).
 */
import { describe, expect, it } from 'vitest';
import { baseSubject, decodeWords, messageIds, parseAddressList, parseDate, parseMessage, parseSentDate, subjectInfo } from '../../node/mime/index.js';

describe('baseSubject (RFC 5256 §2.1)', () => {
  it.each([
    ['Re: test', 'test'],
    ['RE: re: Re: test', 'test'],
    ['Fw: test', 'test'],
    ['FWD: test', 'test'],
    ['Re[2]: test', 'test'],
    ['re :test', 'test'],
    ['[list] Re: test', 'test'],
    ['Re: [list] Fwd: [other] test', 'test'],
    ['test (fwd)', 'test'],
    ['test (FWD) (fwd)  ', 'test'],
    ['[fwd: test]', 'test'],
    ['Re: [fwd: re: hi (fwd)]', 'hi'],
    ['  many   spaces\there  ', 'many spaces here'],
    // A blob is kept when removing it would leave nothing.
    ['[list]', '[list]'],
    ['Re: [list]', '[list]'],
    ['Re:', ''],
    ['', ''],
    // "Reply" is not a leader; neither is a colon without re/fw.
    ['Reply: test', 'Reply: test'],
    ['Note: test', 'Note: test'],
  ])('%j → %j', (input, expected) => {
    expect(baseSubject(input)).toBe(expected);
  });
});

describe('subjectInfo (RFC 5256 §2.1 and §4 step 6)', () => {
  it.each([
    // §4 step 6: "a reply or forward (its original subject contains a subj-refwd part and/or a (fwd) subj-trailer)".
    ['Re: test', 'test', true],
    ['test (fwd)', 'test', true],
    ['[fwd: test]', 'test', true],
    ['[list] Fwd: test', 'test', true],
    ['Re[2]: test', 'test', true],
    // A [blob] alone, whitespace, or a word that only starts like "re" is not a reply.
    ['[list] test', 'test', false],
    ['  test  ', 'test', false],
    ['Reply: test', 'Reply: test', false],
    ['Review of (fwd) plans', 'Review of (fwd) plans', false],
  ])('%j → %j, reply or forward %j', (input, base, refwd) => {
    expect(subjectInfo(input)).toEqual({ base, refwd });
  });

  it('applies the steps in order and repeats them (§2.1 steps 2-6)', () => {
    // (6) unwraps [fwd: ...] and goes again from (2): the (fwd) trailer inside is then removed,
    // then (3) the Re: leader, then (4) the blob that leaves a subject behind.
    expect(subjectInfo('[fwd: Re: [x] hello (fwd)]')).toEqual({ base: 'hello', refwd: true });
    // (4) keeps a blob when removing it would leave nothing; a trailer inside the text stays.
    expect(subjectInfo('Fw: [only]')).toEqual({ base: '[only]', refwd: true });
    expect(subjectInfo('a (fwd) b')).toEqual({ base: 'a (fwd) b', refwd: false });
  });
});

describe('parseSentDate (RFC 9051 §6.4.4: the date "disregarding time and timezone")', () => {
  const day = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d);

  it('keeps the calendar day the header names, in its own zone', () => {
    // 23:30 +0200 on 24 March is 21:30 UTC on the 24th: the day is the 24th either way.
    expect(parseSentDate('Tue, 24 Mar 2026 23:30:00 +0200')).toEqual({ at: Date.UTC(2026, 2, 24, 21, 30), day: day(2026, 3, 24) });
    // 00:30 +0200 on the 25th is 22:30 UTC on the 24th, but the header says the 25th.
    expect(parseSentDate('Wed, 25 Mar 2026 00:30:00 +0200')).toEqual({ at: Date.UTC(2026, 2, 24, 22, 30), day: day(2026, 3, 25) });
    // 23:30 -0700 on the 24th is 06:30 UTC on the 25th; still the 24th.
    expect(parseSentDate('24 Mar 2026 23:30 -0700')?.day).toBe(day(2026, 3, 24));
  });

  it('is not moved by a daylight-saving change (Europe, 29 March 2026 01:00 UTC)', () => {
    // Just before the change in CET (+0100) and just after in CEST (+0200): both name the 29th.
    expect(parseSentDate('Sun, 29 Mar 2026 01:59:59 +0100')).toEqual({ at: Date.UTC(2026, 2, 29, 0, 59, 59), day: day(2026, 3, 29) });
    expect(parseSentDate('Sun, 29 Mar 2026 03:00:00 +0200')).toEqual({ at: Date.UTC(2026, 2, 29, 1, 0, 0), day: day(2026, 3, 29) });
    // The evening before, late in CET, is the 28th even though the same wall time a day later is summer time.
    expect(parseSentDate('Sat, 28 Mar 2026 23:59 +0100')?.day).toBe(day(2026, 3, 28));
  });

  it('falls back to the UTC day only for dates that are not RFC 5322', () => {
    expect(parseSentDate('2026-03-24T23:30:00Z')?.day).toBe(day(2026, 3, 24));
    expect(parseSentDate('nonsense')).toBeNull();
  });
});

describe('parseAddressList', () => {
  it('reads display names from phrases, quoted strings and comments', () => {
    expect(parseAddressList('"Doe, John" <john@example.com>, Jane Q. Public <jane@example.com>')).toEqual([
      { name: 'Doe, John', mailbox: 'john', host: 'example.com' },
      { name: 'Jane Q. Public', mailbox: 'jane', host: 'example.com' },
    ]);
    expect(parseAddressList('john@example.com (John Doe)')).toEqual([{ name: 'John Doe', mailbox: 'john', host: 'example.com' }]);
    expect(parseAddressList('"Esc\\"aped" <e@x.org>')).toEqual([{ name: 'Esc"aped', mailbox: 'e', host: 'x.org' }]);
    expect(parseAddressList('user@example.com <user@example.com>')).toEqual([
      { name: 'user@example.com', mailbox: 'user', host: 'example.com' },
    ]);
  });

  it('decodes encoded-word names, adjacent words joined', () => {
    expect(parseAddressList('=?UTF-8?Q?J=C3=B6rg?= =?UTF-8?Q?_M=C3=BCller?= <j@x.de>')).toEqual([
      { name: 'Jörg Müller', mailbox: 'j', host: 'x.de' },
    ]);
    expect(parseAddressList('=?ISO-8859-1?B?QW5kcuk=?= <a@x.fr>')).toEqual([{ name: 'André', mailbox: 'a', host: 'x.fr' }]);
  });

  it('keeps a quoted local part quoted so mailbox@host stays an address', () => {
    expect(parseAddressList('"john doe"@example.com')).toEqual([{ name: null, mailbox: '"john doe"', host: 'example.com' }]);
  });

  it('represents groups, empty groups and an unterminated group', () => {
    expect(parseAddressList('A Team: a@x, b@x;, c@x')).toEqual([
      { name: null, mailbox: 'A Team', host: null },
      { name: null, mailbox: 'a', host: 'x' },
      { name: null, mailbox: 'b', host: 'x' },
      { name: null, mailbox: null, host: null },
      { name: null, mailbox: 'c', host: 'x' },
    ]);
    expect(parseAddressList('empty:;')).toEqual([
      { name: null, mailbox: 'empty', host: null },
      { name: null, mailbox: null, host: null },
    ]);
    expect(parseAddressList('open: a@x')).toEqual([
      { name: null, mailbox: 'open', host: null },
      { name: null, mailbox: 'a', host: 'x' },
      { name: null, mailbox: null, host: null },
    ]);
  });

  it('tolerates empty entries, missing brackets and missing domains', () => {
    expect(parseAddressList('a@x, , b@y,')).toEqual([
      { name: null, mailbox: 'a', host: 'x' },
      { name: null, mailbox: 'b', host: 'y' },
    ]);
    expect(parseAddressList('Name <a@x')).toEqual([{ name: 'Name', mailbox: 'a', host: 'x' }]);
    expect(parseAddressList('MAILER-DAEMON')).toEqual([{ name: null, mailbox: 'MAILER-DAEMON', host: '' }]);
    expect(parseAddressList('John Smith')).toEqual([{ name: null, mailbox: 'John Smith', host: '' }]);
    expect(parseAddressList('')).toEqual([]);
  });

  it('keeps an obsolete source route as the adl (RFC 3501 §7.4.2, RFC 5322 §4.4)', () => {
    expect(parseAddressList('<@route:user@domain>')).toEqual([{ name: null, route: '@route', mailbox: 'user', host: 'domain' }]);
    expect(parseAddressList('Relay <@a.example,@b.example:u@c.example>')).toEqual([{ name: 'Relay', route: '@a.example,@b.example', mailbox: 'u', host: 'c.example' }]);
  });

  it('makes up no address for a member without an addr-spec (RFC 9051 §7.5.2)', () => {
    // A name with empty brackets, or a dangling bracket, has no mailbox to write as ("foo" NIL "" "").
    expect(parseAddressList('foo <>')).toEqual([]);
    expect(parseAddressList('"foo" <>, bar@x')).toEqual([{ name: null, mailbox: 'bar', host: 'x' }]);
    expect(parseAddressList('a@x, broken <')).toEqual([{ name: null, mailbox: 'a', host: 'x' }]);
    // Groups stay whole around such a member.
    expect(parseAddressList('team: foo <>, b@x;')).toEqual([
      { name: null, mailbox: 'team', host: null },
      { name: null, mailbox: 'b', host: 'x' },
      { name: null, mailbox: null, host: null },
    ]);
  });
});

describe('parseDate', () => {
  it('reads RFC 5322 dates with numeric and obsolete zones', () => {
    expect(parseDate('Tue, 1 Jul 2003 10:52:37 +0200')).toBe(Date.UTC(2003, 6, 1, 8, 52, 37));
    expect(parseDate('Tue, 1 Jul 2003 10:52:37 +0200 (CEST)')).toBe(Date.UTC(2003, 6, 1, 8, 52, 37));
    expect(parseDate('01 Jul 2003 10:52:37 EDT')).toBe(Date.UTC(2003, 6, 1, 14, 52, 37));
    expect(parseDate('1 Jul 03 10:52 GMT')).toBe(Date.UTC(2003, 6, 1, 10, 52, 0));
    expect(parseDate('Thu, 13 Feb 1969 23:32 -0330')).toBe(Date.UTC(1969, 1, 14, 3, 2, 0));
  });

  it('returns null for what is not a date', () => {
    expect(parseDate('next tuesday-ish')).toBeNull();
    expect(parseDate('')).toBeNull();
    expect(parseDate(null)).toBeNull();
  });
});

describe('messageIds', () => {
  it('extracts bracketed ids in order and tolerates junk between them', () => {
    expect(messageIds('<a@x> (comment) <b@y>\t<c@z>')).toEqual(['a@x', 'b@y', 'c@z']);
    expect(messageIds('bare@id.example')).toEqual(['bare@id.example']);
    expect(messageIds('<unterminated@x')).toEqual([]);
    expect(messageIds(null)).toEqual([]);
  });
});

describe('Content-Type and friends', () => {
  const part = (headers: string) => parseMessage(Buffer.from(headers + '\r\n\r\nbody')).structure;

  it('lower-cases type and parameter names but keeps parameter values', () => {
    const p = part('Content-Type: Text/HTML; Charset="UTF-8"; Format=Flowed (comment)');
    expect([p.type, p.subtype]).toEqual(['text', 'html']);
    expect(p.params).toEqual({ charset: 'UTF-8', format: 'Flowed' });
  });

  it('falls back to text/plain for an unusable Content-Type', () => {
    const p = part('Content-Type: garbage');
    expect([p.type, p.subtype]).toEqual(['text', 'plain']);
    expect(p.params.charset).toBe('us-ascii');
  });

  it('joins RFC 2231 continuations out of order, mixing plain and encoded segments', () => {
    const p = part(
      "Content-Type: application/octet-stream;\r\n title*1*=%20Teil%202;\r\n title*0*=iso-8859-1'fr'Vol%E9;\r\n title*2=\" fin\"",
    );
    expect(p.params.title).toBe('Volé Teil 2 fin');
  });

  it('prefers the RFC 2231 value over a plain one with the same name', () => {
    const p = part("Content-Disposition: attachment; filename=fallback.txt; filename*=UTF-8''%C3%A9t%C3%A9.txt");
    expect(p.disposition).toEqual({ type: 'attachment', params: { filename: 'été.txt' } });
  });

  it('takes an unquoted value with spaces up to the next semicolon', () => {
    const p = part('Content-Type: application/pdf; name=my report.pdf; x=1');
    expect(p.params).toEqual({ name: 'my report.pdf', x: '1' });
  });

  it('reads language, location, md5 and encoding', () => {
    const p = part(
      'Content-Type: text/plain\r\nContent-Language: en, de (German)\r\nContent-Location: http://x.example/a\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\nContent-Transfer-Encoding: Quoted-Printable',
    );
    expect(p.language).toEqual(['en', 'de']);
    expect(p.location).toBe('http://x.example/a');
    expect(p.md5).toBe('Q2hlY2sgSW50ZWdyaXR5IQ==');
    expect(p.encoding).toBe('QUOTED-PRINTABLE');
  });
});

describe('bodyText', () => {
  it('strips HTML, skipping scripts, styles and comments, and decodes entities', () => {
    const raw = Buffer.from(
      'Content-Type: text/html; charset=windows-1252\r\n\r\n<html><head><title>T</title><style>p{x:1}</style></head><body><!-- hidden --><script>var a="<p>";</script><p>caf\xe9 &amp; cr&egrave;me &#8364;5</p><br>next</body></html>',
      'latin1',
    );
    expect(parseMessage(raw).bodyText).toBe('café & crème €5\nnext');
  });

  it('decodes base64 text in a legacy charset', () => {
    const raw = Buffer.from('Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n\r\n8NLJ18XU\r\n');
    expect(parseMessage(raw).bodyText).toBe('Привет');
  });
});

describe('decodeWords (RFC 2047)', () => {
  it('joins adjacent words before decoding, so a character split across words survives', () => {
    expect(decodeWords('=?utf-8?q?split_=E2=82?= =?utf-8?q?=AC_end?=')).toBe('split € end');
    expect(decodeWords('=?UTF-8?B?4oKs?=\r\n =?ISO-8859-1?Q?=E9?=')).toBe('€é');
  });

  it('keeps text and whitespace between a word and plain text', () => {
    expect(decodeWords('a =?utf-8?q?b?= c')).toBe('a b c');
    expect(decodeWords('=?utf-8?q?a?=  x  =?utf-8?q?b?=')).toBe('a  x  b');
  });

  it('reads iso-8859-1 as windows-1252, as mail clients do', () => {
    expect(decodeWords('=?iso-8859-1?Q?=93quoted=94_=80?=')).toBe('“quoted” €');
  });

  it('refuses UTF-7 and leaves malformed words alone', () => {
    expect(decodeWords('=?utf-7?Q?+ADw-script+AD4-?=')).toBe('+ADw-script+AD4-');
    expect(decodeWords('=?UTF-8?B?unterminated')).toBe('=?UTF-8?B?unterminated');
    expect(decodeWords('=?utf-8*en?q?with_language?=')).toBe('with language');
  });
});

describe('body charsets', () => {
  it('decodes windows-1252 bytes in an iso-8859-1 body', () => {
    const raw = Buffer.from('Content-Type: text/plain; charset=ISO-8859-1\r\n\r\n\x93Hi\x94 \x80 caf\xe9\r\n', 'latin1');
    expect(parseMessage(raw).bodyText).toBe('“Hi” € café');
  });
});
