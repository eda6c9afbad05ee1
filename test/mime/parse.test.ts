/**
 * @module test/mime/parse
 * parseMessage against hand-written fixtures. Every expected value here was
 * worked out from the fixture text and the RFCs (RFC 2045/2046/2047/2231,
 * RFC 5322, RFC 9051 §7.5.2, RFC 5256), never copied from parser output;
 * offsets are checked by slicing the raw bytes and comparing to the text
 * the fixture was written with.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMessage, type MimePart } from '../../node/mime/index.js';
import { displayKey, mailboxKey, subjectKey } from '../../node/imap/sort-keys.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/mime/${name}`, import.meta.url));
const text = (raw: Buffer, start: number, end: number): string => raw.toString('latin1', start, end);
const header = (raw: Buffer, p: MimePart): string => text(raw, p.start, p.bodyStart);
const body = (raw: Buffer, p: MimePart): string => text(raw, p.bodyStart, p.end);

describe('single part, encoded words, threading ids', () => {
  const raw = fixture('simple.eml');
  const m = parseMessage(raw);

  it('fills the envelope with raw unfolded strings and decoded names', () => {
    expect(m.envelope.date).toBe('Tue, 1 Jul 2003 10:52:37 +0200');
    expect(m.envelope.subject).toBe('=?UTF-8?B?UmU6IFtoYXZlbl0gR3LDvMOfZQ==?= (fwd)');
    expect(m.envelope.from).toEqual([{ name: 'Jörg Müller', mailbox: 'jorg', host: 'example.net' }]);
    // No Sender header: RFC 9051 says it defaults to From.
    expect(m.envelope.sender).toEqual(m.envelope.from);
    expect(m.envelope.replyTo).toEqual([{ name: 'André Support', mailbox: 'support', host: 'example.net' }]);
    expect(m.envelope.to).toEqual([
      { name: 'Alice Example', mailbox: 'alice', host: 'example.com' },
      { name: 'Bob, Jr.', mailbox: 'bob', host: 'example.com' },
    ]);
    expect(m.envelope.cc).toEqual([]);
    expect(m.envelope.bcc).toEqual([]);
    expect(m.envelope.inReplyTo).toBe('<prev@example.com>');
    expect(m.envelope.messageId).toBe('<msg-1@example.net>');
  });

  it('derives sort, display and threading keys', () => {
    expect(m.sentAt).toBe(Date.UTC(2003, 6, 1, 8, 52, 37));
    expect(m.messageId).toBe('msg-1@example.net');
    expect(m.inReplyTo).toEqual(['prev@example.com']);
    expect(m.references).toEqual(['root@example.com', 'prev@example.com']);
    // "Re: [haven] Grüße (fwd)": trailer, Re: leader and the [blob] all go (RFC 5256 §2.1), and
    // i;ascii-casemap folds only ASCII letters.
    expect(subjectKey(m.envelope)).toEqual({ base: 'GRüßE', refwd: true });
    // RFC 5256 §3: FROM/TO/CC sort on the addr-mailbox alone; RFC 5957: DISPLAYFROM on the display name.
    expect(mailboxKey(m.envelope.from)).toBe('JORG');
    expect(mailboxKey(m.envelope.to)).toBe('ALICE');
    expect(mailboxKey(m.envelope.cc)).toBe('');
    expect(displayKey(m.envelope.from)).toBe('JöRG MüLLER');
    expect(displayKey(m.envelope.to)).toBe('ALICE EXAMPLE');
    expect(m.damaged).toBe(false);
  });

  it('locates header and body by byte offset', () => {
    const s = m.structure;
    expect(m.size).toBe(raw.length);
    expect(s.start).toBe(0);
    expect(s.end).toBe(raw.length);
    expect(header(raw, s).endsWith('Content-Transfer-Encoding: quoted-printable\r\n\r\n')).toBe(true);
    expect(body(raw, s)).toBe('Gr=FC=DFe aus M=FCnchen!=20\r\nSoft =\r\nbreak here.\r\n');
    expect(s.size).toBe(s.end - s.bodyStart);
    expect(s.lines).toBe(3);
    expect(s.type).toBe('text');
    expect(s.subtype).toBe('plain');
    expect(s.params).toEqual({ charset: 'iso-8859-1' });
    expect(s.encoding).toBe('QUOTED-PRINTABLE');
    expect(s.parts).toBeUndefined();
  });

  it('indexes decoded header and body text', () => {
    expect(m.headerText).toContain('Subject: Re: [haven] Grüße (fwd)\n');
    expect(m.headerText).toContain('From: Jörg Müller <jorg@example.net>\n');
    expect(m.headerText).toContain('To: Alice Example <alice@example.com>, "Bob, Jr." <bob@example.com>\n');
    // Quoted-printable and latin1 undone; the soft break joins the lines; =20 survives.
    expect(m.bodyText).toBe('Grüße aus München! \nSoft break here.');
  });
});

describe('nested multiparts, RFC 2231 parameters, base64 attachment', () => {
  const raw = fixture('nested.eml');
  const m = parseMessage(raw);
  const [alt, pdf] = m.structure.parts!;

  it('splits the outer multipart and skips preamble and epilogue', () => {
    expect(m.structure.type).toBe('multipart');
    expect(m.structure.subtype).toBe('mixed');
    expect(m.structure.params).toEqual({ boundary: 'outer' });
    expect(m.structure.parts).toHaveLength(2);
    expect(body(raw, m.structure).startsWith('This is the preamble.\r\n--outer\r\n')).toBe(true);
    expect(body(raw, m.structure).endsWith('--outer--\r\nThis is the epilogue.\r\n')).toBe(true);
    expect(m.damaged).toBe(false);
  });

  it('ends each part before the line break that precedes the next delimiter', () => {
    expect(header(raw, alt)).toBe('Content-Type: multipart/alternative; boundary=inner\r\n\r\n');
    expect(body(raw, alt).startsWith('--inner\r\nContent-Type: text/plain')).toBe(true);
    // The blank line after "--inner--" is epilogue of the inner multipart, kept in its body.
    expect(body(raw, alt).endsWith('</p>\r\n--inner--\r\n')).toBe(true);
    const [plain, html] = alt.parts!;
    expect(header(raw, plain)).toBe('Content-Type: text/plain; charset=utf-8\r\n\r\n');
    expect(body(raw, plain)).toBe('Hello plain');
    // Lines are LFs in the body; the CRLF before the delimiter is not the part's.
    expect(plain.lines).toBe(0);
    expect(plain.size).toBe(11);
    expect(body(raw, html)).toBe('<p>Hello <b>html</b> &amp; more</p>');
    expect(html.subtype).toBe('html');
  });

  it('joins RFC 2231 continuations and decodes their charsets', () => {
    expect(pdf.type).toBe('application');
    expect(pdf.subtype).toBe('pdf');
    // name*0*=utf-8''%E2%82%AC%20 then name*1="report.pdf"
    expect(pdf.params).toEqual({ name: '€ report.pdf' });
    // filename*=iso-8859-1'de'Gr%FC%DFe.pdf
    expect(pdf.disposition).toEqual({ type: 'attachment', params: { filename: 'Grüße.pdf' } });
    expect(pdf.encoding).toBe('BASE64');
    expect(pdf.id).toBe('<pdf@example.org>');
    expect(pdf.description).toBe('The report');
    expect(body(raw, pdf)).toBe('JVBERi0xLjQK');
    expect(pdf.lines).toBe(0);
  });

  it('indexes the plain alternative only', () => {
    expect(m.bodyText).toBe('Hello plain');
  });
});

describe('message/rfc822 inside a multipart', () => {
  const raw = fixture('rfc822.eml');
  const m = parseMessage(raw);
  const [note, fwd, single] = m.structure.parts!;

  it('parses the attached message with its own envelope', () => {
    expect(body(raw, note)).toBe('See attached.');
    expect(note.params).toEqual({});
    expect(fwd.type).toBe('message');
    expect(fwd.subtype).toBe('rfc822');
    expect(header(raw, fwd)).toBe('Content-Type: message/rfc822\r\n\r\n');
    expect(body(raw, fwd).startsWith('From: Grace <grace@example.com>\r\n')).toBe(true);
    expect(body(raw, fwd).endsWith('<p>Noon?</p>\r\n--b2--')).toBe(true);
    // 15 line breaks; the last line lost its CRLF to the outer boundary.
    expect(fwd.lines).toBe(15);
    const env = fwd.message!.envelope;
    expect(env.subject).toBe('lunch');
    expect(env.from).toEqual([{ name: 'Grace', mailbox: 'grace', host: 'example.com' }]);
    expect(env.sender).toEqual(env.from);
    expect(env.replyTo).toEqual(env.from);
    expect(env.to).toEqual([{ name: 'Eve', mailbox: 'eve', host: 'example.com' }]);
    expect(env.messageId).toBe('<inner@example.com>');
    expect(env.date).toBe('Wed, 2 Jul 2003 11:00:00 +0000');
  });

  it('gives the enclosed message a structure of its own, inside the part', () => {
    const inner = fwd.message!.structure;
    expect(inner.start).toBe(fwd.bodyStart);
    expect(inner.end).toBe(fwd.end);
    expect(inner.type).toBe('multipart');
    expect(inner.subtype).toBe('alternative');
    const [p, h] = inner.parts!;
    expect(body(raw, p)).toBe('Noon?');
    expect(body(raw, h)).toBe('<p>Noon?</p>');
    expect(header(raw, h)).toBe('Content-Type: text/html\r\n\r\n');
  });

  it('handles a single-part enclosed message with default content type', () => {
    expect(body(raw, single)).toBe('Subject: single\r\n\r\nJust text.');
    expect(single.lines).toBe(2);
    const inner = single.message!.structure;
    expect(inner.type).toBe('text');
    expect(inner.subtype).toBe('plain');
    expect(inner.params).toEqual({ charset: 'us-ascii' });
    expect(body(raw, inner)).toBe('Just text.');
    expect(inner.lines).toBe(0);
    expect(single.message!.envelope.subject).toBe('single');
    expect(single.message!.envelope.from).toEqual([]);
  });

  it('indexes text from the enclosed messages too', () => {
    expect(m.bodyText).toBe('See attached.\nNoon?\nJust text.');
    expect(subjectKey(m.envelope).base).toBe('LUNCH');
    expect(m.damaged).toBe(false);
  });
});

describe('broken multiparts', () => {
  it('ends a part without a close delimiter at the end of the message', () => {
    const raw = fixture('missing-close.eml');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(true);
    const [a, b] = m.structure.parts!;
    expect(m.structure.parts).toHaveLength(2);
    expect(body(raw, a)).toBe('first');
    expect(body(raw, b)).toBe('second, and then the message was cut\r\n');
    expect(b.end).toBe(raw.length);
  });

  it('gives a multipart whose boundary never appears one header-less text part', () => {
    const raw = fixture('no-delimiter.eml');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(true);
    expect(m.structure.type).toBe('multipart');
    expect(m.structure.parts).toHaveLength(1);
    const only = m.structure.parts![0];
    expect(only.start).toBe(m.structure.bodyStart);
    expect(only.bodyStart).toBe(m.structure.bodyStart);
    expect(body(raw, only)).toBe('there is no delimiter line here\r\n');
    expect(only.type).toBe('text');
    expect(only.lines).toBe(1);
  });

  it('reads a multipart without a boundary parameter as text', () => {
    const raw = Buffer.from('Content-Type: multipart/mixed\r\n\r\nhello\r\n');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(true);
    expect(m.structure.type).toBe('text');
    expect(m.structure.parts).toBeUndefined();
    expect(m.bodyText).toBe('hello');
  });

  it('does not take a longer boundary that starts with ours for a delimiter', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\n\r\none\r\n--abc\r\nstill one\r\n--ab \r\n\r\ntwo\r\n--ab--\r\n',
    );
    const m = parseMessage(raw);
    expect(m.damaged).toBe(false);
    expect(m.structure.parts!.map((p) => body(raw, p))).toEqual(['one\r\n--abc\r\nstill one', 'two']);
  });

  it('treats a missing blank line after the header as the start of the body', () => {
    const raw = fixture('no-blank-line.eml');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(true);
    expect(header(raw, m.structure)).toBe('From: sloppy@example.com\r\nSubject: no blank line\r\n');
    expect(body(raw, m.structure)).toBe('This line is the body.\r\n');
    expect(m.envelope.subject).toBe('no blank line');
    expect(m.bodyText).toBe('This line is the body.');
  });
});

describe('groups and unusual addresses', () => {
  const raw = fixture('groups.eml');
  const m = parseMessage(raw);

  it('represents groups the way IMAP does', () => {
    expect(m.envelope.to).toEqual([
      { name: null, mailbox: 'undisclosed-recipients', host: null },
      { name: null, mailbox: null, host: null },
    ]);
    expect(m.envelope.cc).toEqual([
      { name: null, mailbox: 'Friends', host: null },
      { name: null, mailbox: 'ivy', host: 'example.com' },
      { name: 'Jack Q.', mailbox: 'jack', host: 'example.com' },
      { name: null, mailbox: null, host: null },
      { name: 'Kim Lee', mailbox: 'kim', host: 'example.com' },
    ]);
  });

  it('keeps an obsolete source route as the adl (RFC 3501 §7.4.2) and an explicit Sender', () => {
    expect(m.envelope.bcc).toEqual([{ name: null, route: '@relay.example.com', mailbox: 'leo', host: 'example.com' }]);
    expect(m.envelope.sender).toEqual([{ name: null, mailbox: 'list-bounces', host: 'example.com' }]);
    expect(m.envelope.replyTo).toEqual([{ name: 'Henry', mailbox: 'henry', host: 'example.com' }]);
  });

  it('skips group markers for sort keys', () => {
    expect(mailboxKey(m.envelope.to)).toBe('');
    expect(displayKey(m.envelope.to)).toBe('');
    expect(mailboxKey(m.envelope.cc)).toBe('IVY');
  });

  it('accepts a message that is all header, no blank line and no body', () => {
    expect(m.damaged).toBe(false);
    expect(m.structure.bodyStart).toBe(raw.length);
    expect(m.structure.size).toBe(0);
    expect(m.structure.lines).toBe(0);
  });
});

describe('line endings and empty bodies', () => {
  it('parses a bare-LF message with the same structure', () => {
    const raw = fixture('bare-lf.eml');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(false);
    expect(header(raw, m.structure).endsWith('boundary="lf"\n\n')).toBe(true);
    const [plain, html] = m.structure.parts!;
    expect(header(raw, plain)).toBe('Content-Type: text/plain\n\n');
    expect(body(raw, plain)).toBe('line one\nline two');
    expect(plain.lines).toBe(1);
    expect(body(raw, html)).toBe('<i>two</i>');
    expect(html.lines).toBe(0);
    expect(m.envelope.subject).toBe('bare LF');
  });

  it('handles a header followed by a blank line and nothing else', () => {
    const raw = fixture('no-body.eml');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(false);
    expect(header(raw, m.structure)).toBe('From: nobody@example.com\r\nSubject: empty\r\n\r\n');
    expect(m.structure.bodyStart).toBe(raw.length);
    expect(m.structure.size).toBe(0);
    expect(m.structure.lines).toBe(0);
    expect(m.bodyText).toBe('');
  });

  it('handles a header without a final blank line', () => {
    const raw = fixture('header-only.eml');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(false);
    expect(m.structure.bodyStart).toBe(raw.length);
    expect(m.envelope.subject).toBe('only a header');
    expect(m.envelope.from).toEqual([{ name: null, mailbox: 'header', host: 'example.com' }]);
  });

  it('handles an empty message', () => {
    const m = parseMessage(Buffer.alloc(0));
    expect(m.size).toBe(0);
    expect(m.structure).toMatchObject({ start: 0, bodyStart: 0, end: 0, type: 'text', subtype: 'plain', lines: 0 });
    expect(m.envelope.from).toEqual([]);
    expect(subjectKey(m.envelope).base).toBe('');
  });
});

describe('multipart/digest', () => {
  it('defaults digest parts to message/rfc822', () => {
    const raw = fixture('digest.eml');
    const m = parseMessage(raw);
    const [first, second] = m.structure.parts!;
    expect(first.type).toBe('message');
    expect(first.subtype).toBe('rfc822');
    expect(header(raw, first)).toBe('\r\n');
    expect(body(raw, first)).toBe('Subject: first\r\n\r\none');
    expect(first.message!.envelope.subject).toBe('first');
    expect(body(raw, first.message!.structure)).toBe('one');
    expect(second.type).toBe('text');
    expect(second.message).toBeUndefined();
    expect(m.damaged).toBe(false);
  });
});

describe('8-bit headers and bodies', () => {
  const raw = fixture('8bit.eml');
  const m = parseMessage(raw);

  it('reads raw UTF-8 headers as UTF-8 and other 8-bit headers as latin1', () => {
    expect(m.envelope.from).toEqual([{ name: 'André', mailbox: 'andre', host: 'example.com' }]);
    expect(m.envelope.to).toEqual([{ name: 'Jörg', mailbox: 'jorg', host: 'example.com' }]);
    expect(m.envelope.cc).toEqual([{ name: 'René', mailbox: 'rene', host: 'example.com' }]);
    expect(m.envelope.subject).toBe('Grüße');
    expect(subjectKey(m.envelope).base).toBe('GRüßE');
  });

  it('keeps 8-bit and NUL bytes in the body, offsets exact', () => {
    const s = m.structure;
    expect(s.encoding).toBe('8BIT');
    expect(raw.subarray(s.bodyStart, s.end)).toEqual(Buffer.from('K\xc3\xa4se und \xc3\x9cbel\r\nnul\x00byte\r\n', 'latin1'));
    expect(s.lines).toBe(2);
    expect(m.bodyText).toBe('Käse und Übel\nnul\0byte');
    expect(m.damaged).toBe(false);
  });
});

describe('message/global', () => {
  it('parses an enclosed RFC 6532 message with raw UTF-8 headers', () => {
    const inner = 'From: Zoë <zoë@exämple.de>\r\nSubject: Grüße\r\n\r\nHallo\r\n';
    const raw = Buffer.from(`Content-Type: multipart/report; boundary=r\r\n\r\n--r\r\nContent-Type: message/global\r\n\r\n${inner}--r--\r\n`);
    const m = parseMessage(raw);
    const [g] = m.structure.parts!;
    expect([g.type, g.subtype]).toEqual(['message', 'global']);
    expect(raw.subarray(g.bodyStart, g.end).toString('utf8')).toBe(inner.slice(0, -2));
    expect(g.lines).toBe(3);
    expect(g.message!.envelope.from).toEqual([{ name: 'Zoë', mailbox: 'zoë', host: 'exämple.de' }]);
    expect(g.message!.envelope.subject).toBe('Grüße');
    expect(raw.subarray(g.message!.structure.bodyStart, g.message!.structure.end).toString()).toBe('Hallo');
    expect(m.damaged).toBe(false);
  });

  it('keeps a transfer-encoded message/global opaque without calling it damaged', () => {
    const raw = Buffer.from('Content-Type: message/global\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA==\r\n');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(false);
    expect(m.structure.message!.structure.type).toBe('text');
    expect(m.structure.message!.structure.start).toBe(m.structure.bodyStart);
  });
});

describe('NUL bytes and odd header lines', () => {
  it('keeps NUL bytes in header values and skips a leading continuation line', () => {
    const raw = Buffer.from(' stray continuation\r\nSubject: a\0b\r\nFrom: x@y\r\n\r\nbody', 'latin1');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(true);
    expect(m.envelope.subject).toBe('a\0b');
    expect(m.envelope.from).toEqual([{ name: null, mailbox: 'x', host: 'y' }]);
    expect(body(raw, m.structure)).toBe('body');
  });

  it('accepts obsolete whitespace before the colon', () => {
    const raw = Buffer.from('Subject : spaced\r\n\r\n');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(false);
    expect(m.envelope.subject).toBe('spaced');
  });
});

describe('hostile shapes', () => {
  it('caps nesting depth and keeps deeper parts as leaves', () => {
    let msg = 'Content-Type: text/plain\r\n\r\ndeepest\r\n';
    for (let d = 0; d < 60; d++) {
      msg = `Content-Type: multipart/mixed; boundary=b${d}\r\n\r\n--b${d}\r\n${msg}--b${d}--\r\n`;
    }
    const raw = Buffer.from(msg);
    const m = parseMessage(raw);
    expect(m.damaged).toBe(true);
    let depth = 0;
    let p = m.structure;
    while (p.parts) {
      p = p.parts[0];
      depth++;
    }
    expect(depth).toBe(32);
    expect(p.type).toBe('application');
    expect(p.subtype).toBe('octet-stream');
    expect(body(raw, p).startsWith('--b27\r\n')).toBe(true);
  });

  it('parses a 1 MB header line and a header of 5000 fields', () => {
    const long = 'x'.repeat(1 << 20);
    const fields = Array.from({ length: 5000 }, (_, i) => `X-F${i}: v`).join('\r\n');
    const raw = Buffer.from(`Subject: ${long}\r\n${fields}\r\nFrom: a@b.c\r\n\r\nbody\r\n`);
    const t0 = performance.now();
    const m = parseMessage(raw);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(m.envelope.subject!.length).toBe(long.length);
    expect(body(raw, m.structure)).toBe('body\r\n');
    expect(m.headerText.length).toBeLessThanOrEqual(256 * 1024);
  });

  it('bounds the number of parts', () => {
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=z\r\n\r\n' + '--z\r\n\r\nx\r\n'.repeat(20_000) + '--z--\r\n');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(true);
    expect(m.structure.parts!.length).toBeLessThanOrEqual(10_000);
    expect(m.structure.parts![m.structure.parts!.length - 1].end).toBe(m.structure.end);
  });

  it('marks encoded message/rfc822 damaged and keeps its body opaque', () => {
    const raw = Buffer.from('Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA==\r\n');
    const m = parseMessage(raw);
    expect(m.damaged).toBe(true);
    expect(m.structure.message!.envelope.subject).toBeNull();
    expect(body(raw, m.structure.message!.structure)).toBe('U3ViamVjdDogeA==\r\n');
  });
});
