/**
 * Liberal where real data is (issue 22 item 8): vCards exported by phones
 * in vCard 2.1 style — bare parameters (`PHOTO;JPEG;BASE64:`, vCard 2.1
 * §2.1.3 / §2.5.4 "BASE64"), quoted-printable soft line breaks and the
 * blank line that ends a base64 value (vCard 2.1 §2.1.3) — are stored as
 * sent and found by addressbook-query (RFC 6352 §8.6). And an error body
 * never echoes the request: a refused 150 KB photo is not sent back.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dav, startHarness, type DavHarness } from './helpers.js';

const BOOK = '/dav/addressbooks/alice@example.test/default/';
const vcf = { 'Content-Type': 'text/vcard; charset=utf-8' };

let h: DavHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

/** base64 folded the vCard 2.1 way: continuation lines start with spaces, a blank line ends the value. */
function photo21(bytes: number): string[] {
  const b64 = randomBytes(bytes).toString('base64');
  const lines = b64.match(/.{1,72}/g)!;
  return [`PHOTO;JPEG;BASE64:${lines[0]}`, ...lines.slice(1).map((l) => `  ${l}`), ''];
}

const find = (name: string) =>
  `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>` +
  `<C:filter><C:prop-filter name="FN"><C:text-match match-type="contains">${name}</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`;

describe('vCard 2.1 habits are stored as sent', () => {
  it('PHOTO;JPEG;BASE64: with a folded base64 value and a closing blank line', async () => {
    const card = ['BEGIN:VCARD', 'VERSION:2.1', 'UID:phone-export-1', 'N:Lovelace;Ada', 'FN:Ada Lovelace', ...photo21(600), 'TEL;CELL:+44 20 7946 0000', 'END:VCARD', ''].join('\r\n');
    const r = await dav(h, 'PUT', BOOK + 'ada.vcf', { body: card, headers: vcf });
    expect(r.status).toBe(201);
    expect((await dav(h, 'GET', BOOK + 'ada.vcf')).text).toBe(card);
    const q = await dav(h, 'REPORT', BOOK, { headers: { Depth: '1' }, body: find('Lovelace') });
    expect(q.text).toContain(`${BOOK}ada.vcf`);
  });

  it('PHOTO;BASE64: in a vCard 3.0, and a quoted-printable name split by a soft line break', async () => {
    const card = [
      'BEGIN:VCARD',
      'VERSION:3.0',
      'UID:phone-export-2',
      'N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=',
      '=BCrgen',
      'FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller',
      'PHOTO;BASE64:' + randomBytes(90).toString('base64'),
      'END:VCARD',
      '',
    ].join('\r\n');
    const r = await dav(h, 'PUT', BOOK + 'juergen.vcf', { body: card, headers: vcf });
    expect(r.status).toBe(201);
    expect((await dav(h, 'GET', BOOK + 'juergen.vcf')).text).toBe(card);
    const q = await dav(h, 'REPORT', BOOK, { headers: { Depth: '1' }, body: find('rgen') });
    expect(q.text).toContain(`${BOOK}juergen.vcf`);
  });
});

describe('an error never echoes the whole request', () => {
  it('a refused vCard with a 150 KB photo answers in under 1 KB, without the photo', async () => {
    const b64 = randomBytes(110_000).toString('base64');
    // Broken on purpose: a property line with no ":" at all, carrying the photo data.
    const card = ['BEGIN:VCARD', 'VERSION:4.0', 'UID:big-broken', 'FN:Big', `PHOTO;ENCODING=b;TYPE=JPEG${b64}`, 'END:VCARD', ''].join('\r\n');
    expect(card.length).toBeGreaterThan(140_000);
    const r = await dav(h, 'PUT', BOOK + 'big.vcf', { body: card, headers: vcf });
    expect(r.status).toBe(403);
    expect(r.text).toContain('<card:valid-address-data/>');
    expect(r.text.length).toBeLessThan(1024);
    expect(r.text).not.toContain(b64.slice(1000, 1100));
  });

  it('a refused event with a huge DESCRIPTION is answered briefly too', async () => {
    const filler = 'x'.repeat(200_000);
    const body = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', 'BEGIN:VEVENT', `DESCRIPTION${filler}`, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    const r = await dav(h, 'PUT', '/dav/calendars/alice@example.test/default/big.ics', { body, headers: { 'Content-Type': 'text/calendar' } });
    expect(r.status).toBe(403);
    expect(r.text.length).toBeLessThan(1024);
  });
});
