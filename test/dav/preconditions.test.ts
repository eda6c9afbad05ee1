/**
 * Strict where the RFCs are (issue 22 item 9), against the real server,
 * with the RFCs' own examples as fixtures (test/fixtures/dav/rfc): TZIDs
 * without their VTIMEZONE,
 * calendar-timezone values that are not one VTIMEZONE, malformed query
 * filters, calendar-data in a type the server does not produce, and a vCard
 * with two UIDs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE_BOOK as BOOK, ALICE_CAL as CAL, dav, ICS as ics, putAs, rfcFixture, startHarness, vcard, VCF as vcf, type DavHarness } from './helpers.js';

const BASTILLE = rfcFixture('rfc4791-5.3.2-bastille.ics');
const US_EASTERN = rfcFixture('rfc4791-5.3.1.2-us-eastern.ics');
const SIMON = rfcFixture('rfc6350-8-simon.vcf');

let h: DavHarness;
beforeAll(async () => {
  h = await startHarness();
  expect((await put(CAL + 'qwue23489.ics', BASTILLE)).status).toBe(201);
  expect((await put(BOOK + 'simon.vcf', SIMON, vcf)).status).toBe(201);
});
afterAll(async () => h.close());

const put = (path: string, body: string, headers?: Record<string, string>) => putAs(h, path, body, headers);
const withUid = (text: string, uid: string) => text.replace(/^UID:.*$/m, `UID:${uid}`);

describe('RFC 4791 §4.1: a VTIMEZONE for every TZID', () => {
  const zoned = (vtimezone: boolean) => {
    const zone = US_EASTERN.split(/\r\n/).slice(3, -2);
    const lines = BASTILLE.split('\r\n');
    const ev = lines.map((l) => l.replace(/^DTSTART:20060714T170000Z$/, 'DTSTART;TZID=US-Eastern:20060714T130000').replace(/^DTEND:20060715T040000Z$/, 'DTEND;TZID=US-Eastern:20060715T000000'));
    return withUid([...ev.slice(0, 3), ...(vtimezone ? zone : []), ...ev.slice(3)].join('\r\n'), `zoned-${vtimezone}@example.com`);
  };

  it('refuses TZID=US-Eastern without its VTIMEZONE (valid-calendar-data), and stores it with one', async () => {
    const bad = await put(CAL + 'zoned-bad.ics', zoned(false));
    expect(bad.status).toBe(403);
    expect(bad.text).toContain('<cal:valid-calendar-data/>');
    expect(bad.text).toContain('TZID=US-Eastern');
    expect((await dav(h, 'GET', CAL + 'zoned-bad.ics')).status).toBe(404);
    expect((await put(CAL + 'zoned-good.ics', zoned(true))).status).toBe(201);
  });
});

describe('RFC 4791 §5.2.2, §5.2.10, §5.3.1.1: calendar-timezone holds one VTIMEZONE', () => {
  const mkcalendar = (tz: string) =>
    `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Lisa's Events</D:displayname>` +
    `<C:calendar-timezone><![CDATA[${tz}]]></C:calendar-timezone></D:prop></D:set></C:mkcalendar>`;
  const proppatch = (tz: string) =>
    `<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Renamed</D:displayname>` +
    `<C:calendar-timezone><![CDATA[${tz}]]></C:calendar-timezone></D:prop></D:set></D:propertyupdate>`;
  const twoZones = US_EASTERN.replace('END:VCALENDAR', US_EASTERN.split('\r\n').slice(3, -2).join('\r\n').replace('US-Eastern', 'US-Eastern-2') + '\r\nEND:VCALENDAR');
  const withEvent = BASTILLE.replace('BEGIN:VEVENT', US_EASTERN.split('\r\n').slice(3, -2).join('\r\n') + '\r\nBEGIN:VEVENT');

  it('MKCALENDAR with the RFC example time zone succeeds and returns it', async () => {
    expect((await dav(h, 'MKCALENDAR', '/dav/calendars/alice@example.test/events/', { body: mkcalendar(US_EASTERN) })).status).toBe(201);
    const r = await dav(h, 'PROPFIND', '/dav/calendars/alice@example.test/events/', {
      headers: { Depth: '0' },
      body: '<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-timezone/></D:prop></D:propfind>',
    });
    expect(r.text).toContain('TZID:US-Eastern');
  });

  it('MKCALENDAR with two VTIMEZONEs, with an event, or with no VTIMEZONE is 403 valid-calendar-data and makes nothing', async () => {
    for (const [name, tz] of Object.entries({ two: twoZones, event: withEvent, none: BASTILLE.replace(/BEGIN:VEVENT[\s\S]*END:VEVENT\r\n/, ''), text: 'Europe/Paris' })) {
      const path = `/dav/calendars/alice@example.test/bad-${name}/`;
      const r = await dav(h, 'MKCALENDAR', path, { body: mkcalendar(tz) });
      expect(r.status, name).toBe(403);
      expect(r.text, name).toContain('<cal:valid-calendar-data/>');
      expect((await dav(h, 'PROPFIND', path, { headers: { Depth: '0' } })).status, name).toBe(404);
    }
  });

  it('PROPPATCH with an invalid calendar-timezone answers 403 with valid-calendar-data for it and 424 for the rest, changing nothing', async () => {
    const r = await dav(h, 'PROPPATCH', CAL, { body: proppatch(twoZones) });
    expect(r.status).toBe(207);
    expect(r.text).toContain('<d:propstat><d:prop><cal:calendar-timezone/></d:prop><d:status>HTTP/1.1 403 Forbidden</d:status><d:error><cal:valid-calendar-data/></d:error>');
    expect(r.text).toContain('<d:prop><d:displayname/></d:prop><d:status>HTTP/1.1 424 Failed Dependency</d:status>');
    const after = await dav(h, 'PROPFIND', CAL, { headers: { Depth: '0' }, body: '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>' });
    expect(after.text).not.toContain('Renamed');
    expect((await dav(h, 'PROPPATCH', CAL, { body: proppatch(US_EASTERN) })).text).toContain('HTTP/1.1 200 OK');
  });
});

describe('RFC 4791 §7.8 and RFC 6352 §8.6: invalid filters are 400 valid-filter, not an empty 207', () => {
  // RFC 4791 §7.8.1's query, then broken one rule of §9.7 at a time.
  const query = (filter: string) =>
    `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter>${filter}</C:filter></C:calendar-query>`;
  const cases: Record<string, string> = {
    'top comp-filter not VCALENDAR': '<C:comp-filter name="VEVENT"/>',
    'two top comp-filters': '<C:comp-filter name="VCALENDAR"/><C:comp-filter name="VCALENDAR"/>',
    'comp-filter without a name': '<C:comp-filter name="VCALENDAR"><C:comp-filter/></C:comp-filter>',
    'nested VCALENDAR': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VCALENDAR"/></C:comp-filter>',
    'is-not-defined with a test beside it': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:is-not-defined/><C:prop-filter name="SUMMARY"/></C:comp-filter></C:comp-filter>',
    'time-range on VCALENDAR': '<C:comp-filter name="VCALENDAR"><C:time-range start="20060104T000000Z"/></C:comp-filter>',
    'time-range on VTIMEZONE': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTIMEZONE"><C:time-range start="20060104T000000Z"/></C:comp-filter></C:comp-filter>',
    'time-range with neither start nor end': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range/></C:comp-filter></C:comp-filter>',
    'time-range in local time': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060104T000000"/></C:comp-filter></C:comp-filter>',
    'two time-ranges': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060104T000000Z"/><C:time-range end="20060105T000000Z"/></C:comp-filter></C:comp-filter>',
    'prop-filter with text-match and time-range': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="DTSTART"><C:time-range start="20060104T000000Z"/><C:text-match>x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>',
    'param-filter without a name': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE"><C:param-filter><C:text-match>x</C:text-match></C:param-filter></C:prop-filter></C:comp-filter></C:comp-filter>',
    'negate-condition not yes or no': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match negate-condition="maybe">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>',
    'an unknown CalDAV element': '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:bogus/></C:comp-filter></C:comp-filter>',
  };
  for (const [name, filter] of Object.entries(cases)) {
    it(`calendar-query: ${name}`, async () => {
      const r = await dav(h, 'REPORT', CAL, { headers: { Depth: '1' }, body: query(filter) });
      expect(r.status).toBe(400);
      expect(r.text).toContain('<cal:valid-filter/>');
    });
  }

  it('the valid filter of RFC 4791 §7.8.1 still answers 207', async () => {
    const r = await dav(h, 'REPORT', CAL, {
      headers: { Depth: '1' },
      body: query('<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060104T000000Z" end="20060105T000000Z"/></C:comp-filter></C:comp-filter>'),
    });
    expect(r.status).toBe(207);
  });

  const cardQuery = (filter: string) =>
    `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>${filter}</C:addressbook-query>`;
  const cardCases: Record<string, string> = {
    'test neither anyof nor allof': '<C:filter test="someof"><C:prop-filter name="FN"/></C:filter>',
    'prop-filter without a name': '<C:filter><C:prop-filter><C:text-match>x</C:text-match></C:prop-filter></C:filter>',
    'unknown match-type': '<C:filter><C:prop-filter name="FN"><C:text-match match-type="sounds-like">x</C:text-match></C:prop-filter></C:filter>',
    'is-not-defined with text-match': '<C:filter><C:prop-filter name="FN"><C:is-not-defined/><C:text-match>x</C:text-match></C:prop-filter></C:filter>',
  };
  for (const [name, filter] of Object.entries(cardCases)) {
    it(`addressbook-query: ${name}`, async () => {
      const r = await dav(h, 'REPORT', BOOK, { headers: { Depth: '1' }, body: cardQuery(filter) });
      expect(r.status).toBe(400);
      expect(r.text).toContain('<card:valid-filter/>');
    });
  }
});

describe('RFC 4791 §7.8/§7.9 supported-calendar-data, RFC 6352 §8.6/§8.7 supported-address-data', () => {
  it('refuses calendar-data asked as application/calendar+json or version 3.0; text/calendar 2.0 is served', async () => {
    for (const attrs of ['content-type="application/calendar+json"', 'content-type="text/calendar" version="3.0"']) {
      const r = await dav(h, 'REPORT', CAL, {
        body: `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data ${attrs}/></D:prop><D:href>${CAL}qwue23489.ics</D:href></C:calendar-multiget>`,
      });
      expect(r.status, attrs).toBe(403);
      expect(r.text).toContain('<cal:supported-calendar-data/>');
    }
    const ok = await dav(h, 'REPORT', CAL, {
      body: `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data content-type="text/calendar" version="2.0"/></D:prop><D:href>${CAL}qwue23489.ics</D:href></C:calendar-multiget>`,
    });
    expect(ok.status).toBe(207);
    expect(ok.text).toContain('Bastille Day');
  });

  it('refuses address-data asked as application/vcard+json', async () => {
    const r = await dav(h, 'REPORT', BOOK, {
      body: `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data content-type="application/vcard+json"/></D:prop><D:href>${BOOK}simon.vcf</D:href></C:addressbook-multiget>`,
    });
    expect(r.status).toBe(403);
    expect(r.text).toContain('<card:supported-address-data/>');
  });
});

describe('RFC 6350 §6.7.6: a vCard has at most one UID', () => {
  it('refuses a vCard with two UIDs (valid-address-data)', async () => {
    const r = await put(BOOK + 'two.vcf', vcard('first-uid', 'Two Uids', ['UID:second-uid']), vcf);
    expect(r.status).toBe(403);
    expect(r.text).toContain('<card:valid-address-data/>');
    expect(r.text).toContain('more than one UID');
  });
});
