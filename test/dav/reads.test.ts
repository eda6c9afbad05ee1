/**
 * The read path (issue 20 item 3): GET serves the stored bytes as they were
 * PUT; conditional GET by ETag (RFC 9110 §13.1.1, §13.1.2, §13.2.2, §15.4.5);
 * calendar-multiget (RFC 4791 §7.9) answers from one store query in the
 * order of its hrefs; a calendar-query that only names a component (RFC 4791
 * §9.7.1) answers from the stored index exactly as the general filter does;
 * and a multistatus too large to gather first is streamed whole, every
 * object's data intact, read back by an independent client (tsdav).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, client, dav, event, startHarness, type DavHarness } from './helpers.js';

let h: DavHarness;
beforeAll(async () => {
  h = await startHarness({ accounts: [ALICE] });
});
afterAll(async () => h.close());

const CAL = '/dav/calendars/alice@example.test/default/';
const ics = { 'Content-Type': 'text/calendar; charset=utf-8' };
const put = (path: string, body: string, headers: Record<string, string> = {}) => dav(h, 'PUT', path, { body, headers: { ...ics, ...headers } });
const raw = async (path: string, headers: Record<string, string> = {}) => {
  const r = await h.fetch(h.base + path, { headers: { Authorization: 'Basic ' + Buffer.from(`${ALICE.address}:${ALICE.password}`).toString('base64'), ...headers } });
  return { status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
};

/** An event as a client might write it: folded lines, non-ASCII, XML's special characters, X- properties, its own property order. */
const ODD = [
  'BEGIN:VCALENDAR',
  'PRODID:-//Some client 1.0//EN',
  'VERSION:2.0',
  'X-WR-CALNAME:Büro & <Home>',
  'BEGIN:VEVENT',
  'SUMMARY:Réunion "Q3" <budget> & planning — 会议',
  'DTSTART:20270301T090000Z',
  'UID:odd-1@example.test',
  'DTEND:20270301T100000Z',
  'DESCRIPTION:A long description that a client folded at seventy-five octets ',
  ' as RFC 5545 §3.1 allows\\, with an escaped comma\\; and a semicolon',
  'X-CUSTOM;X-PARAM="a;b":value',
  'DTSTAMP:20260101T000000Z',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

describe('GET', () => {
  it('returns the stored object byte for byte, with the ETag PUT returned', async () => {
    const p = await put(CAL + 'odd.ics', ODD);
    expect(p.status).toBe(201);
    const r = await raw(CAL + 'odd.ics');
    expect(r.status).toBe(200);
    expect(r.bytes.equals(Buffer.from(ODD, 'utf8'))).toBe(true);
    expect(r.headers.get('etag')).toBe(p.headers.get('etag'));
    expect(r.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
  });
});

describe('conditional GET (RFC 9110 §13.1.2, §13.2.2)', () => {
  let etag = '';
  beforeAll(async () => {
    etag = (await put(CAL + 'cond-get.ics', event('cond-get-1', '20270401T100000Z', '20270401T110000Z'))).headers.get('etag')!;
  });

  it('If-None-Match with the current ETag is 304 with no body; §15.4.5: the 304 carries the ETag', async () => {
    const r = await raw(CAL + 'cond-get.ics', { 'If-None-Match': etag });
    expect(r.status).toBe(304);
    expect(r.bytes.length).toBe(0);
    expect(r.headers.get('etag')).toBe(etag);
  });

  it('§13.1.2: the field is a list, compared weakly: the tag among others, or weakened with W/, is 304; * is 304', async () => {
    expect((await raw(CAL + 'cond-get.ics', { 'If-None-Match': `"a", ${etag}, "b"` })).status).toBe(304);
    expect((await raw(CAL + 'cond-get.ics', { 'If-None-Match': `"a", W/${etag}` })).status).toBe(304);
    expect((await raw(CAL + 'cond-get.ics', { 'If-None-Match': '*' })).status).toBe(304);
  });

  it('If-None-Match with other tags is 200 with the body', async () => {
    const r = await raw(CAL + 'cond-get.ics', { 'If-None-Match': '"other", W/"another"' });
    expect(r.status).toBe(200);
    expect(r.bytes.toString()).toContain('UID:cond-get-1');
  });

  it('§13.1.1: If-Match is compared strongly, before If-None-Match (§13.2.2): a stale or weakened tag is 412', async () => {
    expect((await raw(CAL + 'cond-get.ics', { 'If-Match': '"stale"' })).status).toBe(412);
    expect((await raw(CAL + 'cond-get.ics', { 'If-Match': `W/${etag}` })).status).toBe(412);
    expect((await raw(CAL + 'cond-get.ics', { 'If-Match': '"stale"', 'If-None-Match': etag })).status).toBe(412);
    expect((await raw(CAL + 'cond-get.ics', { 'If-Match': `"x", ${etag}` })).status).toBe(200);
  });

  it('after a change the old ETag no longer answers 304, and a PUT or DELETE with it is 412 and changes nothing', async () => {
    const changed = event('cond-get-1', '20270401T100000Z', '20270401T120000Z');
    const p = await put(CAL + 'cond-get.ics', changed, { 'If-Match': etag });
    expect(p.status).toBe(204);
    const fresh = p.headers.get('etag')!;
    expect(fresh).not.toBe(etag);
    const r = await raw(CAL + 'cond-get.ics', { 'If-None-Match': etag });
    expect(r.status).toBe(200);
    expect(r.bytes.toString()).toBe(changed);
    expect((await put(CAL + 'cond-get.ics', event('cond-get-1', '20270401T100000Z', '20270401T130000Z'), { 'If-Match': etag })).status).toBe(412);
    expect((await dav(h, 'DELETE', CAL + 'cond-get.ics', { headers: { 'If-Match': etag } })).status).toBe(412);
    const after = await raw(CAL + 'cond-get.ics');
    expect(after.bytes.toString()).toBe(changed);
    expect(after.headers.get('etag')).toBe(fresh);
  });
});

const multiget = (hrefs: string[]) =>
  `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>${hrefs.map((x) => `<D:href>${x}</D:href>`).join('')}</C:calendar-multiget>`;
const hrefsOf = (xml: string) => [...xml.matchAll(/<d:href>([^<]+)<\/d:href>/g)].map((m) => m[1]);

describe('calendar-multiget (RFC 4791 §7.9)', () => {
  it('answers every href in the order asked, stored ones with their data and missing or foreign ones 404', async () => {
    for (const n of ['m1', 'm2', 'm3']) await put(`${CAL}${n}.ics`, event(`mg-${n}`, '20270501T100000Z', '20270501T110000Z'));
    const asked = [CAL + 'm3.ics', CAL + 'missing.ics', CAL + 'm1.ics', '/dav/calendars/bob@example.test/default/m1.ics', CAL + 'm3.ics'];
    const r = await dav(h, 'REPORT', CAL, { body: multiget(asked), headers: { Depth: '1' } });
    expect(r.status).toBe(207);
    expect(hrefsOf(r.text)).toEqual(asked);
    const parts = r.text.split('<d:response>').slice(1);
    expect(parts[0]).toContain('UID:mg-m3');
    expect(parts[1]).toContain('HTTP/1.1 404 Not Found');
    expect(parts[2]).toContain('UID:mg-m1');
    expect(parts[3]).toContain('HTTP/1.1 404 Not Found');
    expect(parts[4]).toContain('UID:mg-m3');
  });
});

describe('calendar-query naming only a component (RFC 4791 §9.7.1)', () => {
  it('matches exactly what the same filter with a condition every event meets matches', async () => {
    const query = (inner: string) =>
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">${inner}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
    const plain = await dav(h, 'REPORT', CAL, { body: query(''), headers: { Depth: '1' } });
    // §9.7.2: a prop-filter with no condition matches when the property is defined, and every VEVENT has a UID.
    const general = await dav(h, 'REPORT', CAL, { body: query('<C:prop-filter name="UID"/>'), headers: { Depth: '1' } });
    expect(plain.status).toBe(207);
    expect(hrefsOf(plain.text).length).toBeGreaterThan(3);
    expect(plain.text).toBe(general.text);
    const none = await dav(h, 'REPORT', CAL, { body: query('').replace('name="VEVENT"', 'name="VTODO"'), headers: { Depth: '1' } });
    expect(hrefsOf(none.text)).toEqual([]);
  });
});

describe('a large multistatus', () => {
  it('streams every object of a calendar past the gathering threshold, each one whole (read by tsdav)', async () => {
    const c = await client(h);
    await c.makeCalendar({ url: h.base + '/dav/calendars/alice@example.test/big/', props: { displayname: 'Big' } });
    const cal = (await c.fetchCalendars()).find((x) => x.url.endsWith('/big/'))!;
    // About 150 KB of calendar-data: more than STREAM_AFTER (64 KiB), so the reply goes out in chunks.
    const sent = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const text = event(`big-${i}`, '20270601T100000Z', '20270601T110000Z', [`SUMMARY:Event ${i} & <more>`, `DESCRIPTION:${'Agenda item. '.repeat(40)}`.slice(0, 74)]);
      sent.set(`big-${i}.ics`, text);
      expect((await put(`/dav/calendars/alice@example.test/big/big-${i}.ics`, text)).status).toBe(201);
    }
    const objs = await c.fetchCalendarObjects({ calendar: cal });
    expect(objs).toHaveLength(200);
    for (const o of objs) {
      const name = new URL(o.url, h.base).pathname.split('/').pop()!;
      // XML reads CR LF in text as LF (XML 1.0 §2.11), and tsdav trims the text: compare with both undone.
      expect(o.data.replace(/\r\n/g, '\n').trimEnd()).toBe(sent.get(name)!.replace(/\r\n/g, '\n').trimEnd());
    }
    const mg = await dav(h, 'REPORT', '/dav/calendars/alice@example.test/big/', { body: multiget([...sent.keys()].map((n) => `/dav/calendars/alice@example.test/big/${n}`)), headers: { Depth: '1' } });
    expect(mg.status).toBe(207);
    expect(mg.headers.get('content-length')).toBeNull();
    expect(hrefsOf(mg.text)).toHaveLength(200);
    expect(mg.text.endsWith('</d:multistatus>\n')).toBe(true);
  });
});
