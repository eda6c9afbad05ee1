/**
 * SEARCH string and date keys to the letter of RFC 9051 §6.4.4 (RFC 3501
 * §6.4.4 says the same): BODY, TEXT, SUBJECT and the address and HEADER keys
 * match when the field *contains* the string, case-insensitively, after the
 * transfer encoding and charset are undone; HEADER with "" matches exactly
 * the messages that have the field; SENT* compare the Date header's own
 * calendar day, "disregarding time and timezone". Each block stores its
 * fixtures in a folder of its own and drives the real server over a raw
 * socket (exact responses), with imapflow as an independent client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flow, selectNewFolder, startSession, type ImapFixture, type Raw } from './helpers.js';

let f: ImapFixture;
let raw: Raw;

const b64 = (s: string, enc: BufferEncoding = 'utf8') => Buffer.from(s, enc).toString('base64');

/** A message from header lines and a body, CRLF throughout. */
function mail(headers: string[], body: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(headers.join('\r\n') + '\r\n\r\n', 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'), Buffer.from('\r\n')]);
}

/** Stores `messages` in a new folder, in order (sequence numbers 1..n), and selects it. */
const folder = (name: string, messages: Buffer[]) => selectNewFolder(f, raw, name, messages);

/** The numbers of a SEARCH response; `args` may hold UTF-8, sent as a non-synchronizing literal (RFC 7888). */
async function search(args: string, literal?: string): Promise<string> {
  const cmd = literal === undefined ? `SEARCH ${args}` : `SEARCH CHARSET UTF-8 ${args} {${Buffer.byteLength(literal)}+}\r\n${literal}`;
  const r = await raw.cmd('q', cmd);
  expect(r).toMatch(/q OK/);
  return /^\* SEARCH(.*)\r\n/m.exec(r)![1].trim();
}

let stop: () => Promise<void>;
beforeAll(async () => ({ f, raw, stop } = await startSession()));
afterAll(() => stop?.());

describe('BODY, TEXT and SUBJECT are substring matches on the decoded text (RFC 9051 §6.4.4)', () => {
  beforeAll(() =>
    folder('Text', [
      // 1: base64 UTF-8 body.
      mail(['From: a@example.test', 'Subject: keys', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'], b64('Der Schlüssel liegt unter asdfghjkl.')),
      // 2: quoted-printable ISO-8859-1 body: the raw bytes say "caf=E9 cr=E8me".
      mail(['From: b@example.test', 'Subject: menu', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable'], 'Un caf=E9 cr=E8me, s=27il vous pla=EEt.'),
      // 3: an encoded-word subject in ISO-8859-1, body in KOI8-R base64 ("Привет, мир").
      mail(
        ['From: c@example.test', 'Subject: =?ISO-8859-1?Q?R=E9sum=E9_du_projet?=', 'Content-Type: text/plain; charset=koi8-r', 'Content-Transfer-Encoding: base64'],
        Buffer.from('8NLJ18XULCDNydI=', 'latin1'),
      ),
      // 4: plain ASCII, for what must not match.
      mail(['From: d@example.test', 'Subject: Plain ASDF'], 'nothing to see: qwerty'),
    ]),
  );

  it('finds a string inside a word, not only whole words (the issue: BODY sdfghjk in asdfghjkl)', async () => {
    expect(await search('BODY sdfghjk')).toBe('1');
    expect(await search('TEXT SDFGHJ')).toBe('1');
    expect(await search('BODY lieg')).toBe('1');
    expect(await search('SUBJECT asd')).toBe('4');
    expect(await search('TEXT "nter asdf"')).toBe('1');
  });

  it('undoes base64 and quoted-printable and the charset before matching', async () => {
    expect(await search('BODY', 'SCHLÜSSEL')).toBe('1');
    expect(await search('BODY', 'fé cr')).toBe('2');
    expect(await search('BODY', "s'il vous plaît")).toBe('2');
    expect(await search('BODY', 'ривет, ми')).toBe('3');
    // The encoded form is not the text: nothing says "caf=E9" once decoded.
    expect(await search('BODY caf=E9')).toBe('');
  });

  it('decodes encoded words in SUBJECT and in header text for TEXT', async () => {
    expect(await search('SUBJECT', 'sumé du')).toBe('3');
    expect(await search('TEXT', 'RÉSUMÉ')).toBe('3');
    expect(await search('HEADER Subject', 'é du pro')).toBe('3');
  });

  it('answers strings shorter than three characters by scanning the decoded text', async () => {
    expect(await search('BODY', 'é')).toBe('2');
    expect(await search('BODY qw')).toBe('4');
    expect(await search('BODY', 'ü')).toBe('1');
    // The empty string is contained in every body.
    expect(await search('BODY ""')).toBe('1 2 3 4');
  });

  it('gives an independent client the same answers (imapflow)', async () => {
    const c = await flow(f);
    try {
      await c.mailboxOpen('Text');
      expect(await c.search({ body: 'sdfghjk' })).toEqual([1]);
      expect(await c.search({ subject: 'sumé' })).toEqual([3]);
      expect(await c.search({ body: 'ривет' })).toEqual([3]);
    } finally {
      await c.logout();
    }
  });
});

describe('TEXT looks in the MIME header fields too (RFC 9051 §6.4.4)', () => {
  beforeAll(() =>
    folder('Mime', [
      mail(
        ['From: a@example.test', 'Subject: report', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"'],
        [
          '--b1',
          'Content-Type: text/plain',
          '',
          'See the attached file.',
          '--b1',
          'Content-Type: application/pdf; name="quarterly-report.pdf"',
          'Content-Disposition: attachment; filename="quarterly-report.pdf"',
          'Content-Transfer-Encoding: base64',
          '',
          b64('%PDF-1.4 not text'),
          '--b1',
          'Content-Type: message/rfc822',
          '',
          'Subject: Inner topic',
          'From: inner@example.test',
          '',
          'Forwarded words.',
          '--b1--',
        ].join('\r\n'),
      ),
      mail(['From: b@example.test', 'Subject: other'], 'unrelated'),
    ]),
  );

  it('finds an attachment name and an enclosed message header with TEXT, not with BODY', async () => {
    // "TEXT: ... in the header (including MIME header fields) or body of the message."
    expect(await search('TEXT ly-report.p')).toBe('1');
    expect(await search('TEXT "inner top"')).toBe('1');
    expect(await search('BODY ly-report')).toBe('');
    // The text parts, the enclosed message's too, are the body; the PDF is not text.
    expect(await search('BODY "attached fi"')).toBe('1');
    expect(await search('BODY "warded wor"')).toBe('1');
    expect(await search('TEXT PDF-1')).toBe('');
  });
});

describe('address keys and HEADER field "" (RFC 9051 §6.4.4)', () => {
  beforeAll(() =>
    folder('Addr', [
      mail(['From: Real Name <user-from@example.org>', 'To: user-to@example.org', 'Cc: user-cc@example.org', 'Bcc: user-bcc@example.org'], 'one'),
      // The address written with comments in it: still user-from@example.org.
      mail(['From: <user-from (work)@ (main) example.org>', 'To: <user-to@example.org>'], 'two'),
      // A group and no Cc or Bcc.
      mail(['From: x@example.org', 'To: team: m1@example.org, m2@example.org;'], 'three'),
      // An empty Cc field is still a Cc field; no To at all.
      mail(['From: y@example.org', 'Cc:'], 'four'),
      // An encoded display name.
      mail(['From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <jm@example.org>', 'To: undisclosed-recipients:;'], 'five'),
    ]),
  );

  it('matches only messages that have the field when the string is empty', async () => {
    // "If the string to search is zero-length, this matches all messages that have a header line
    // with the specified field-name regardless of the contents."
    expect(await search('HEADER To ""')).toBe('1 2 3 5');
    expect(await search('HEADER Cc ""')).toBe('1 4');
    expect(await search('HEADER Bcc ""')).toBe('1');
    expect(await search('HEADER X-Missing ""')).toBe('');
    // The address keys take "" the same way: the field must be there to contain it.
    expect(await search('TO ""')).toBe('1 2 3 5');
    expect(await search('BCC ""')).toBe('1');
  });

  it('finds an address in its plain form, however the header wrote it', async () => {
    expect(await search('FROM user-from@example.org')).toBe('1 2');
    expect(await search('FROM ser-fro')).toBe('1 2');
    expect(await search('FROM "real name"')).toBe('1');
    expect(await search('FROM', 'jörg mü')).toBe('5');
    expect(await search('TO team')).toBe('3');
    expect(await search('TO m2@example')).toBe('3');
    expect(await search('TO undisclosed')).toBe('5');
    expect(await search('CC user-cc')).toBe('1');
  });
});

describe('SENTBEFORE, SENTON, SENTSINCE use the Date header day in its own zone (RFC 9051 §6.4.4)', () => {
  beforeAll(() =>
    folder('Dates', [
      // 1: 23:30 +0200 on 24 March is 21:30 UTC: 24 March (the case).
      mail(['From: a@x', 'Date: Tue, 24 Mar 2026 23:30:00 +0200'], 'a'),
      // 2: 00:30 +0200 on 25 March is 22:30 UTC on the 24th, but the header says the 25th.
      mail(['From: a@x', 'Date: Wed, 25 Mar 2026 00:30:00 +0200'], 'b'),
      // 3: 23:30 -0700 on 24 March is 06:30 UTC on the 25th: still the 24th.
      mail(['From: a@x', 'Date: Tue, 24 Mar 2026 23:30:00 -0700'], 'c'),
      // 4, 5: either side of the European change to summer time, 29 March 2026 01:00 UTC; 4 is 23:30 UTC on the 28th.
      mail(['From: a@x', 'Date: Sun, 29 Mar 2026 00:30:00 +0100'], 'd'),
      mail(['From: a@x', 'Date: Sun, 29 Mar 2026 03:30:00 +0200'], 'e'),
      // 6: late on the 28th in winter time, 22:59 UTC.
      mail(['From: a@x', 'Date: Sat, 28 Mar 2026 23:59:00 +0100'], 'f'),
      // 7: the evening of the US change to daylight time (8 March 2026), PDT: 06:30 UTC on the 9th.
      mail(['From: a@x', 'Date: Sun, 8 Mar 2026 23:30:00 -0700'], 'g'),
      // 8: no Date header: no sent date to compare.
      mail(['From: a@x'], 'h'),
    ]),
  );

  it('compares the date part as written, disregarding time and zone', async () => {
    expect(await search('SENTON 24-Mar-2026')).toBe('1 3');
    expect(await search('SENTON 25-Mar-2026')).toBe('2');
    expect(await search('SENTBEFORE 25-Mar-2026')).toBe('1 3 7');
    expect(await search('SENTSINCE 25-Mar-2026')).toBe('2 4 5 6');
  });

  it('is not moved by a daylight-saving change', async () => {
    expect(await search('SENTON 29-Mar-2026')).toBe('4 5');
    expect(await search('SENTON 28-Mar-2026')).toBe('6');
    expect(await search('SENTON 8-Mar-2026')).toBe('7');
    expect(await search('SENTSINCE 29-Mar-2026')).toBe('4 5');
    // A message without a Date header has no sent date: never SENTBEFORE, so NOT SENTBEFORE holds.
    expect(await search('NOT SENTBEFORE 29-Mar-2026')).toBe('4 5 8');
  });
});
