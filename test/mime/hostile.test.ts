/**
 * @module test/mime/hostile
 * Inputs shaped to make a careless parser quadratic: a quarter megabyte of
 * one pathological pattern each. Linear code parses each in tens of
 * milliseconds; a quadratic path would take minutes, so the generous bound
 * catches it without being sensitive to a busy machine.
 */
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../node/mime/index.js';

const N = 256 * 1024;

const cases: Array<[string, string]> = [
  ['parameters without values', 'Content-Type: text/plain' + ';a'.repeat(N / 2) + '\r\n\r\nx'],
  ['colons after an address', 'To: a@b' + ':'.repeat(N) + '\r\n\r\nx'],
  ['many recipients', 'To: ' + 'a@b,'.repeat(N / 4) + '\r\n\r\nx'],
  ['unclosed comments', 'From: ' + '('.repeat(N) + '\r\n\r\nx'],
  ['quotes', 'From: ' + '"a'.repeat(N / 2) + '\r\n\r\nx'],
  ['angle brackets', 'From: ' + '<a'.repeat(N / 2) + '\r\n\r\nx'],
  ['encoded words', 'Subject: ' + '=?utf-8?q?a?= '.repeat(N / 14) + '\r\n\r\nx'],
  ['broken encoded words', 'Subject: ' + '=?utf-8?q?'.repeat(N / 10) + '\r\n\r\nx'],
  ['reply prefixes', 'Subject: ' + 're: '.repeat(N / 4) + '\r\n\r\nx'],
  ['open blobs', 'Subject: ' + '['.repeat(N) + '\r\n\r\nx'],
  ['quoted-printable equals signs', 'Content-Transfer-Encoding: quoted-printable\r\n\r\n' + '='.repeat(N)],
  ['short quoted-printable lines', 'Content-Transfer-Encoding: quoted-printable\r\n\r\n' + 'ab\r\n'.repeat(N / 4)],
  ['unclosed tags', 'Content-Type: text/html\r\n\r\n' + '<a '.repeat(N / 3)],
  ['unclosed scripts', 'Content-Type: text/html\r\n\r\n' + '<script>'.repeat(N / 8)],
  ['unclosed comments in HTML', 'Content-Type: text/html\r\n\r\n' + '<!--'.repeat(N / 4)],
  ['lines that start like the boundary', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n' + '--bx\r\n'.repeat(N / 6)],
  ['boundaries not at line start', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n' + 'x--b'.repeat(N / 4)],
  ['empty parts', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n' + '--b\r\n'.repeat(N / 5)],
  ['nesting', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n'.repeat(N / 50)],
  ['RFC 2231 segments', 'Content-Type: text/plain' + Array.from({ length: 20_000 }, (_, i) => `; n*${i}*=%41`).join('') + '\r\n\r\nx'],
  ['folded lines', 'Subject: a\r\n' + ' b\r\n'.repeat(N / 4) + '\r\nx'],
  ['carriage returns', '\r'.repeat(N)],
  ['message ids', 'References: ' + '<'.repeat(N) + '\r\n\r\nx'],
];

describe('hostile inputs stay linear', () => {
  it.each(cases)('%s', (_name, text) => {
    const raw = Buffer.from(text, 'latin1');
    const t0 = performance.now();
    const m = parseMessage(raw);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(m.size).toBe(raw.length);
    expect(m.bodyText.length).toBeLessThanOrEqual(256 * 1024);
    expect(m.headerText.length).toBeLessThanOrEqual(256 * 1024);
  });
});
