/**
 * Hrefs (RFC 4918 §8.3: URLs in hrefs are percent-encoded, RFC 3986 §2.1):
 * the fast paths for names that need no escaping give exactly what the
 * encoding and decoding would, for every character of the Basic
 * Multilingual Plane, and escaped names still round-trip.
 */
import { describe, expect, it } from 'vitest';
import { enc, href, parsePath } from '../../node/dav/paths.js';

describe('href encoding and decoding', () => {
  it('enc gives what encodeURIComponent (with @ kept) gives, for every BMP character in a name', () => {
    for (let c = 1; c < 0xd800; c++) {
      const s = `a${String.fromCharCode(c)}b`;
      expect(enc(s)).toBe(encodeURIComponent(s).replace(/%40/g, '@'));
    }
  });

  it('a name with and without escapes comes back from parsePath as it was', () => {
    for (const name of ['plain-name_1.ics', 'with space.ics', 'ümlaut.ics', "it's (1)!.ics", '100%.ics', 'a@b.ics']) {
      const t = parsePath(href.object('calendar', 'alice@example.test', 'default', name));
      expect(t).toMatchObject({ t: 'object', name, collection: 'default', address: 'alice@example.test' });
    }
  });

  it('bad percent-encoding is 400 and a slash smuggled in an escape is 403', () => {
    expect(() => parsePath('/dav/calendars/alice@example.test/default/%E0%A4%A.ics')).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => parsePath('/dav/calendars/alice@example.test/default/a%2Fb.ics')).toThrow(expect.objectContaining({ status: 403 }));
  });
});
