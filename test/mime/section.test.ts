/**
 * @module test/mime/section
 * Section resolution for FETCH BODY[...] / BINARY[...] on stored structures,
 * with IMAP's numbering rules (RFC 9051 §6.4.5): expected bytes are the
 * fixture text itself.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeBody,
  parseMessage,
  resolvePart,
  sectionBytes,
  UnknownEncodingError,
  type Section,
} from '../../node/mime/index.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/mime/${name}`, import.meta.url));

function fetcher(name: string) {
  const raw = fixture(name);
  const { structure } = parseMessage(raw);
  return (path: number[], text?: Section['text'], fields?: string[]): string | null => {
    const b = sectionBytes(raw, structure, { path, text, fields });
    return b === null ? null : b.toString('latin1');
  };
}

describe('sections of a nested multipart', () => {
  const get = fetcher('nested.eml');
  const raw = fixture('nested.eml');

  it('serves the whole message, its header and its text', () => {
    expect(get([])).toBe(raw.toString('latin1'));
    const h = get([], 'HEADER')!;
    expect(h.startsWith('From: Carol <carol@example.org>\r\n')).toBe(true);
    expect(h.endsWith('boundary="outer"\r\n\r\n')).toBe(true);
    expect(get([], 'TEXT')).toBe(raw.toString('latin1').slice(h.length));
    expect(get([], 'MIME')).toBeNull();
  });

  it('numbers parts of parts', () => {
    expect(get([1, 1])).toBe('Hello plain');
    expect(get([1, 2])).toBe('<p>Hello <b>html</b> &amp; more</p>');
    expect(get([1, 2], 'MIME')).toBe('Content-Type: text/html; charset=utf-8\r\n\r\n');
    expect(get([1], 'MIME')).toBe('Content-Type: multipart/alternative; boundary=inner\r\n\r\n');
    expect(get([1])!.startsWith('--inner\r\n')).toBe(true);
    expect(get([2])).toBe('JVBERi0xLjQK');
  });

  it('returns null for parts that do not exist or sections that do not apply', () => {
    expect(get([3])).toBeNull();
    expect(get([1, 3])).toBeNull();
    expect(get([1, 1, 1])).toBeNull();
    expect(get([0])).toBeNull();
    // HEADER and TEXT need a message/rfc822 part.
    expect(get([2], 'HEADER')).toBeNull();
    expect(get([1], 'TEXT')).toBeNull();
  });

  it('selects header fields case-insensitively in their original form', () => {
    expect(get([], 'HEADER.FIELDS', ['subject', 'FROM'])).toBe('From: Carol <carol@example.org>\r\nSubject: Report\r\n\r\n');
    expect(get([], 'HEADER.FIELDS', ['x-absent'])).toBe('\r\n');
    expect(get([], 'HEADER.FIELDS.NOT', ['From', 'to', 'subject', 'date', 'message-id'])).toBe(
      'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n',
    );
  });

  it('decodes base64 for BINARY and reports the part encoding', () => {
    const { structure } = parseMessage(raw);
    const r = resolvePart(structure, [2])!;
    expect(r.encoding).toBe('BASE64');
    expect(decodeBody(raw.subarray(r.body.start, r.body.end), r.encoding).toString('latin1')).toBe('%PDF-1.4\n');
  });
});

describe('sections through message/rfc822', () => {
  const get = fetcher('rfc822.eml');

  it('serves the enclosed message header, text and fields', () => {
    const h = get([2], 'HEADER')!;
    expect(h.startsWith('From: Grace <grace@example.com>\r\n')).toBe(true);
    expect(h.endsWith('Content-Type: multipart/alternative; boundary="b2"\r\n\r\n')).toBe(true);
    expect(get([2], 'TEXT')).toBe('--b2\r\nContent-Type: text/plain\r\n\r\nNoon?\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>Noon?</p>\r\n--b2--');
    expect(get([2])).toBe(h + get([2], 'TEXT'));
    expect(get([2], 'MIME')).toBe('Content-Type: message/rfc822\r\n\r\n');
    expect(get([2], 'HEADER.FIELDS', ['To', 'from'])).toBe('From: Grace <grace@example.com>\r\nTo: Eve <eve@example.com>\r\n\r\n');
  });

  it('numbers the enclosed message parts under the rfc822 part', () => {
    expect(get([2, 1])).toBe('Noon?');
    expect(get([2, 2])).toBe('<p>Noon?</p>');
    expect(get([2, 2], 'MIME')).toBe('Content-Type: text/html\r\n\r\n');
    expect(get([2, 3])).toBeNull();
  });

  it("takes part 1 of a non-multipart enclosed message to be its body", () => {
    expect(get([3, 1])).toBe('Just text.');
    expect(get([3, 1], 'MIME')).toBe('Subject: single\r\n\r\n');
    expect(get([3, 2])).toBeNull();
    expect(get([3], 'HEADER.FIELDS', ['SUBJECT'])).toBe('Subject: single\r\n\r\n');
    expect(get([3], 'TEXT')).toBe('Just text.');
  });
});

describe('sections of a single-part message', () => {
  const get = fetcher('simple.eml');

  it('takes part 1 to be the body and its MIME header to be the message header', () => {
    const body = 'Gr=FC=DFe aus M=FCnchen!=20\r\nSoft =\r\nbreak here.\r\n';
    expect(get([1])).toBe(body);
    expect(get([], 'TEXT')).toBe(body);
    expect(get([1], 'MIME')).toBe(get([], 'HEADER'));
    expect(get([2])).toBeNull();
  });

  it('returns folded fields with their continuation lines', () => {
    expect(get([], 'HEADER.FIELDS', ['references', 'to'])).toBe(
      'To: Alice Example <alice@example.com>,\r\n "Bob, Jr." <bob@example.com>\r\nReferences: <root@example.com>\r\n <prev@example.com>\r\n\r\n',
    );
  });

  it('decodes quoted-printable for BINARY', () => {
    const raw = fixture('simple.eml');
    const r = resolvePart(parseMessage(raw).structure, [1])!;
    expect(decodeBody(raw.subarray(r.body.start, r.body.end), r.encoding)).toEqual(
      Buffer.from('Gr\xfc\xdfe aus M\xfcnchen! \r\nSoft break here.\r\n', 'latin1'),
    );
  });
});

describe('header-only and bare-LF messages', () => {
  it('serves the header of a message with no blank line, and an empty text', () => {
    const get = fetcher('header-only.eml');
    expect(get([], 'HEADER')).toBe('From: header@example.com\r\nSubject: only a header\r\n');
    expect(get([], 'TEXT')).toBe('');
    expect(get([], 'HEADER.FIELDS', ['subject'])).toBe('Subject: only a header\r\n\r\n');
  });

  it('keeps LF line ends in selected fields and ends with CRLF', () => {
    const get = fetcher('bare-lf.eml');
    expect(get([], 'HEADER.FIELDS', ['Subject'])).toBe('Subject: bare LF\n\r\n');
    expect(get([1])).toBe('line one\nline two');
  });
});

describe('decodeBody', () => {
  it('passes identity encodings through', () => {
    const b = Buffer.from([0, 1, 0xff]);
    for (const e of ['7BIT', '8bit', 'Binary', '']) expect(decodeBody(b, e)).toBe(b);
  });

  it('undoes quoted-printable soft breaks, escapes and transport whitespace', () => {
    const qp = Buffer.from('a=3Db  \r\nc=\r\nd =\r\ne=XYf=\n==41\n');
    expect(decodeBody(qp, 'quoted-printable').toString('latin1')).toBe('a=b\r\ncd e=XYf=A\n');
  });

  it('ignores line breaks and junk in base64', () => {
    expect(decodeBody(Buffer.from('aGVs\r\nbG8g\r\nd29y bGQ=\r\n'), 'BASE64').toString()).toBe('hello world');
  });

  it('throws a typed error carrying UNKNOWN-CTE for anything else', () => {
    let caught: unknown;
    try {
      decodeBody(Buffer.from('x'), 'x-uuencode');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnknownEncodingError);
    expect((caught as UnknownEncodingError).code).toBe('UNKNOWN-CTE');
    expect((caught as UnknownEncodingError).message).toContain('x-uuencode');
  });
});
