/**
 * WebDAV core and CalDAV details the golden transcripts do not pin: MOVE
 * (rename, across calendars, Overwrite, If-Match, component checks, sync
 * tombstones), conditional GET/HEAD/PUT, quota properties and the quota
 * itself, extended MKCOL and MKCALENDAR preconditions, the report set, and
 * calendar-query filters on VTODO and VEVENT properties and parameters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, dav, event, startHarness, type DavHarness } from './helpers.js';

let h: DavHarness;
beforeAll(async () => {
  h = await startHarness({ accounts: [ALICE, { address: 'quota@example.test', password: 'quota password long' }] });
});
afterAll(async () => h.close());

const CAL = '/dav/calendars/alice@example.test/default/';
const TASKS = '/dav/calendars/alice@example.test/tasks/';
const ics = { 'Content-Type': 'text/calendar; charset=utf-8' };
const put = (path: string, body: string, headers: Record<string, string> = {}) => dav(h, 'PUT', path, { body, headers: { ...ics, ...headers } });
const dest = (path: string) => `${h.base}${path}`;
const syncBody = (token: string) => `<d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;
const tokenOf = (xml: string) => /<d:sync-token>([^<]+)<\/d:sync-token>/.exec(xml)![1];

describe('MOVE', () => {
  it('renames an object in its calendar: same ETag at the new name, a tombstone at the old one', async () => {
    const r = await put(CAL + 'old.ics', event('mv-1', '20270101T100000Z', '20270101T110000Z'));
    expect(r.status).toBe(201);
    const token = tokenOf((await dav(h, 'REPORT', CAL, { body: syncBody('') })).text);
    const mv = await dav(h, 'MOVE', CAL + 'old.ics', { headers: { Destination: dest(CAL + 'new.ics') } });
    expect(mv.status).toBe(201);
    expect(mv.headers.get('etag')).toBe(r.headers.get('etag'));
    expect((await dav(h, 'GET', CAL + 'old.ics')).status).toBe(404);
    expect((await dav(h, 'GET', CAL + 'new.ics')).text).toContain('UID:mv-1');
    const delta = (await dav(h, 'REPORT', CAL, { body: syncBody(token) })).text;
    expect(delta).toContain(`<d:response><d:href>${CAL}old.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`);
    expect(delta).toContain(`<d:href>${CAL}new.ics</d:href><d:propstat>`);
  });

  it('moves across calendars; Overwrite: F onto an existing object is 412, onto another UID 403, and neither changes anything', async () => {
    await dav(h, 'MKCALENDAR', '/dav/calendars/alice@example.test/other/');
    await put('/dav/calendars/alice@example.test/other/taken.ics', event('mv-taken', '20270102T100000Z', '20270102T110000Z'));
    const refused = await dav(h, 'MOVE', CAL + 'new.ics', { headers: { Destination: dest('/dav/calendars/alice@example.test/other/taken.ics'), Overwrite: 'F' } });
    expect(refused.status).toBe(412);
    expect((await dav(h, 'GET', CAL + 'new.ics')).status).toBe(200);
    // RFC 4791 §5.3.2.1: taken.ics holds another UID, so moving over it is a UID conflict naming taken.ics.
    const clash = await dav(h, 'MOVE', CAL + 'new.ics', { headers: { Destination: dest('/dav/calendars/alice@example.test/other/taken.ics') } });
    expect(clash.status).toBe(403);
    expect(clash.text).toContain('<cal:no-uid-conflict><d:href>/dav/calendars/alice@example.test/other/taken.ics</d:href></cal:no-uid-conflict>');
    expect((await dav(h, 'GET', CAL + 'new.ics')).status).toBe(200);
    // Over an older copy of the same event (same UID) it replaces it.
    await put('/dav/calendars/alice@example.test/other/copy.ics', event('mv-1', '20270101T100000Z', '20270101T120000Z'));
    const over = await dav(h, 'MOVE', CAL + 'new.ics', { headers: { Destination: dest('/dav/calendars/alice@example.test/other/copy.ics') } });
    expect(over.status).toBe(204);
    expect((await dav(h, 'GET', '/dav/calendars/alice@example.test/other/copy.ics')).text).toContain('DTEND:20270101T110000Z');
    expect((await dav(h, 'GET', CAL + 'new.ics')).status).toBe(404);
  });

  it('refuses a stale If-Match, an event into a tasks-only list, and a collection', async () => {
    await put(CAL + 'm2.ics', event('mv-2', '20270103T100000Z', '20270103T110000Z'));
    expect((await dav(h, 'MOVE', CAL + 'm2.ics', { headers: { Destination: dest(CAL + 'm3.ics'), 'If-Match': '"stale"' } })).status).toBe(412);
    const comp = await dav(h, 'MOVE', CAL + 'm2.ics', { headers: { Destination: dest(TASKS + 'm2.ics') } });
    expect(comp.status).toBe(403);
    expect(comp.text).toContain('<cal:supported-calendar-component');
    expect((await dav(h, 'MOVE', CAL, { headers: { Destination: dest('/dav/calendars/alice@example.test/renamed/') } })).status).toBe(403);
    expect((await dav(h, 'MOVE', CAL + 'm2.ics', {})).status).toBe(400);
  });
});

describe('conditional requests', () => {
  it('GET with a matching If-None-Match is 304; HEAD has the ETag and no body', async () => {
    const r = await put(CAL + 'cond.ics', event('cond-1', '20270104T100000Z', '20270104T110000Z'));
    const etag = r.headers.get('etag')!;
    expect((await dav(h, 'GET', CAL + 'cond.ics', { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect((await dav(h, 'GET', CAL + 'cond.ics', { headers: { 'If-None-Match': '"other"' } })).status).toBe(200);
    const head = await dav(h, 'HEAD', CAL + 'cond.ics');
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
    expect(head.text).toBe('');
  });

  it('PUT with If-Match on a missing object is 412; If-None-Match: * creates once', async () => {
    expect((await put(CAL + 'nothing.ics', event('c-2', '20270105T100000Z', '20270105T110000Z'), { 'If-Match': '"abc"' })).status).toBe(412);
    expect((await dav(h, 'GET', CAL + 'nothing.ics')).status).toBe(404);
    expect((await put(CAL + 'once.ics', event('c-3', '20270105T100000Z', '20270105T110000Z'), { 'If-None-Match': '*' })).status).toBe(201);
    expect((await put(CAL + 'once.ics', event('c-3', '20270105T100000Z', '20270105T120000Z'), { 'If-None-Match': '*' })).status).toBe(412);
  });

  it('DELETE with a stale If-Match is 412 and keeps the object', async () => {
    expect((await dav(h, 'DELETE', CAL + 'once.ics', { headers: { 'If-Match': '"stale"' } })).status).toBe(412);
    expect((await dav(h, 'GET', CAL + 'once.ics')).status).toBe(200);
  });
});

describe('discovery properties', () => {
  const props = (path: string, user = ALICE) =>
    dav(h, 'PROPFIND', path, {
      user,
      headers: { Depth: '0' },
      body: '<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:quota-used-bytes/><d:quota-available-bytes/><cs:getctag/><d:supported-report-set/></d:prop></d:propfind>',
    });

  it('a calendar reports its reports, a ctag that moves with changes, and quota figures', async () => {
    const a = await props(CAL);
    for (const rep of ['cal:calendar-query', 'cal:calendar-multiget', 'cal:free-busy-query', 'd:sync-collection']) expect(a.text).toContain(`<d:report><${rep}/></d:report>`);
    const ctag = /<cs:getctag>(\d+)<\/cs:getctag>/.exec(a.text)![1];
    const used = Number(/<d:quota-used-bytes>(\d+)</.exec(a.text)![1]);
    await put(CAL + 'ctag.ics', event('ctag-1', '20270106T100000Z', '20270106T110000Z', [`DESCRIPTION:${'x'.repeat(2000)}`]));
    const b = await props(CAL);
    expect(/<cs:getctag>(\d+)<\/cs:getctag>/.exec(b.text)![1]).not.toBe(ctag);
    expect(Number(/<d:quota-used-bytes>(\d+)</.exec(b.text)![1])).toBeGreaterThanOrEqual(used + 2000);
  });

  it('with a quota, quota-available-bytes counts down and a PUT past it is 507 quota-not-exceeded', async () => {
    const q = { address: 'quota@example.test', password: 'quota password long' };
    const acct = h.t.store.directory.getAccount(q.address)!;
    h.t.store.directory.updateAccount(acct.id, { quotaBytes: 20_000 });
    const path = '/dav/calendars/quota@example.test/default/';
    const first = await dav(h, 'PUT', path + 'a.ics', { user: q, body: event('q-a', '20270107T100000Z', '20270107T110000Z'), headers: ics });
    expect(first.status).toBe(201);
    const p = await props(path, q);
    const used = Number(/<d:quota-used-bytes>(\d+)</.exec(p.text)![1]);
    expect(Number(/<d:quota-available-bytes>(\d+)</.exec(p.text)![1])).toBe(20_000 - used);
    const big = await dav(h, 'PUT', path + 'big.ics', { user: q, body: event('q-big', '20270107T100000Z', '20270107T110000Z', [`DESCRIPTION:${'y'.repeat(30_000)}`]), headers: ics });
    expect(big.status).toBe(507);
    expect(big.text).toContain('<d:quota-not-exceeded/>');
    expect((await dav(h, 'GET', path + 'big.ics', { user: q })).status).toBe(404);
  });
});

describe('MKCOL and MKCALENDAR', () => {
  it('extended MKCOL makes an address book with its properties, and refuses a calendar resourcetype there', async () => {
    const ok = await dav(h, 'MKCOL', '/dav/addressbooks/alice@example.test/work/', {
      body: '<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype><d:displayname>Work</d:displayname></d:prop></d:set></d:mkcol>',
    });
    expect(ok.status).toBe(201);
    const wrong = await dav(h, 'MKCOL', '/dav/addressbooks/alice@example.test/cal/', {
      body: '<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype></d:prop></d:set></d:mkcol>',
    });
    expect(wrong.status).toBe(403);
    expect(wrong.text).toContain('<d:valid-resourcetype/>');
    const again = await dav(h, 'MKCOL', '/dav/addressbooks/alice@example.test/work/', {});
    expect(again.status).toBe(405);
    expect(again.text).toContain('<d:resource-must-be-null/>');
  });

  it('MKCALENDAR with a VTODO-only component set refuses events and takes tasks', async () => {
    const mk = await dav(h, 'MKCALENDAR', '/dav/calendars/alice@example.test/chores/', {
      body: '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>',
    });
    expect(mk.status).toBe(201);
    const ev = await put('/dav/calendars/alice@example.test/chores/e.ics', event('chore-ev', '20270108T100000Z', '20270108T110000Z'));
    expect(ev.status).toBe(403);
    expect(ev.text).toContain('<cal:supported-calendar-component/>');
    const bad = await dav(h, 'MKCALENDAR', '/dav/calendars/alice@example.test/odd/', {
      body: '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><c:supported-calendar-component-set><c:comp name="VAVAILABILITY"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>',
    });
    expect(bad.status).toBe(403);
    expect((await dav(h, 'PROPFIND', '/dav/calendars/alice@example.test/odd/', { headers: { Depth: '0' } })).status).toBe(404);
  });
});

describe('calendar-query filters', () => {
  const todo = (uid: string, extra: string[]) =>
    ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', 'BEGIN:VTODO', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', ...extra, 'END:VTODO', 'END:VCALENDAR', ''].join('\r\n');
  const query = (path: string, filter: string) =>
    dav(h, 'REPORT', path, {
      headers: { Depth: '1' },
      body: `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR">${filter}</c:comp-filter></c:filter></c:calendar-query>`,
    });
  const names = (xml: string) => [...xml.matchAll(/<d:href>[^<]*\/([^/<]+)<\/d:href>/g)].map((m) => m[1]).sort();

  beforeAll(async () => {
    await put(TASKS + 'open.ics', todo('t-open', ['SUMMARY:Buy milk', 'DUE:20270201T170000Z']));
    await put(TASKS + 'done.ics', todo('t-done', ['SUMMARY:File taxes', 'STATUS:COMPLETED', 'COMPLETED:20270110T120000Z']));
    await put(CAL + 'attendees.ics', event('f-att', '20270301T100000Z', '20270301T110000Z', ['SUMMARY:Review MEETING', 'ORGANIZER:mailto:alice@example.test', 'ATTENDEE;PARTSTAT=DECLINED:mailto:dan@example.net']));
  });

  it('VTODO without COMPLETED (is-not-defined) finds only the open task', async () => {
    const r = await query(TASKS, '<c:comp-filter name="VTODO"><c:prop-filter name="COMPLETED"><c:is-not-defined/></c:prop-filter></c:comp-filter>');
    expect(r.status).toBe(207);
    expect(names(r.text)).toEqual(['open.ics']);
  });

  it('VTODO time-range uses DUE', async () => {
    const r = await query(TASKS, '<c:comp-filter name="VTODO"><c:time-range start="20270201T000000Z" end="20270202T000000Z"/></c:comp-filter>');
    expect(names(r.text)).toEqual(['open.ics']);
  });

  it('text-match on SUMMARY is case-insensitive by default and honours negate-condition', async () => {
    const hit = await query(CAL, '<c:comp-filter name="VEVENT"><c:prop-filter name="SUMMARY"><c:text-match>review meeting</c:text-match></c:prop-filter></c:comp-filter>');
    expect(names(hit.text)).toEqual(['attendees.ics']);
    const octet = await query(CAL, '<c:comp-filter name="VEVENT"><c:prop-filter name="SUMMARY"><c:text-match collation="i;octet">review meeting</c:text-match></c:prop-filter></c:comp-filter>');
    expect(names(octet.text)).toEqual([]);
    const neg = await query(CAL, '<c:comp-filter name="VEVENT"><c:prop-filter name="SUMMARY"><c:text-match negate-condition="yes">Review</c:text-match></c:prop-filter></c:comp-filter>');
    expect(names(neg.text)).not.toContain('attendees.ics');
  });

  it('param-filter matches an attendee\'s PARTSTAT', async () => {
    const r = await query(CAL, '<c:comp-filter name="VEVENT"><c:prop-filter name="ATTENDEE"><c:param-filter name="PARTSTAT"><c:text-match>DECLINED</c:text-match></c:param-filter></c:prop-filter></c:comp-filter>');
    expect(names(r.text)).toEqual(['attendees.ics']);
    const none = await query(CAL, '<c:comp-filter name="VEVENT"><c:prop-filter name="ATTENDEE"><c:param-filter name="PARTSTAT"><c:text-match>ACCEPTED</c:text-match></c:param-filter></c:prop-filter></c:comp-filter>');
    expect(names(none.text)).toEqual([]);
  });

  it('an unknown collation is refused with supported-collation', async () => {
    const r = await query(CAL, '<c:comp-filter name="VEVENT"><c:prop-filter name="SUMMARY"><c:text-match collation="i;klingon">x</c:text-match></c:prop-filter></c:comp-filter>');
    expect(r.status).toBe(403);
    expect(r.text).toContain('<cal:supported-collation/>');
  });
});
