/**
 * RFC 4791 against the node's own HTTPS server (startNode), with the
 * calendar data of Appendix B (test/fixtures/dav/rfc4791) and the requests
 * of §7.8:
 *
 * - §9.6.1 partial retrieval (comp/prop), §9.6.5 expand (instances in UTC
 *   with RECURRENCE-ID, no rules, no VTIMEZONE, overrides included) and
 *   §9.6.6 limit-recurrence-set;
 * - §9.9 VALARM time-range over recurrences and REPEAT/DURATION;
 * - §9.9 floating times and all-day dates evaluated in the calendar's
 *   calendar-timezone (§5.2.2) or the query's timezone (§9.8), for
 *   calendar-query and free-busy-query (§7.10).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'dav', 'rfc4791');
const USER = { address: 'bernard@example.org', password: 'bernard-password-1' };
const HOME = `/dav/calendars/${USER.address}/`;
const WORK = `${HOME}work/`;
const NY = `${HOME}new-york/`;
const UTC = `${HOME}utc/`;

/** RFC 4791 §5.3.1.2's calendar-timezone (US-Eastern), as MKCALENDAR sends it. */
const US_EASTERN = [
  'BEGIN:VCALENDAR', 'PRODID:-//Example Corp.//CalDAV Client//EN', 'VERSION:2.0',
  'BEGIN:VTIMEZONE', 'TZID:US-Eastern', 'LAST-MODIFIED:19870101T000000Z',
  'BEGIN:STANDARD', 'DTSTART:19671029T020000', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10', 'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'TZNAME:Eastern Standard Time (US & Canada)', 'END:STANDARD',
  'BEGIN:DAYLIGHT', 'DTSTART:19870405T020000', 'RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4', 'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'TZNAME:Eastern Daylight Time (US & Canada)', 'END:DAYLIGHT',
  'END:VTIMEZONE', 'END:VCALENDAR', '',
].join('\r\n');
const TOKYO = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven test//EN', 'BEGIN:VTIMEZONE', 'TZID:Asia/Tokyo', 'BEGIN:STANDARD', 'DTSTART:19700101T000000', 'TZOFFSETFROM:+0900', 'TZOFFSETTO:+0900', 'TZNAME:JST', 'END:STANDARD', 'END:VTIMEZONE', 'END:VCALENDAR', ''].join('\r\n');

const vcal = (body: string[]): string => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven test//EN', ...body, 'END:VCALENDAR', ''].join('\r\n');
/** 10:00 on 4 January 2006 with no zone: 15:00Z in New York (EST), 01:00Z in Tokyo, 10:00Z read as UTC. */
const FLOATING = vcal(['BEGIN:VEVENT', 'UID:floating@example.org', 'DTSTAMP:20060101T000000Z', 'DTSTART:20060104T100000', 'DURATION:PT1H', 'SUMMARY:Floating', 'END:VEVENT']);
/** All of 4 January 2006: from 05:00Z on the 4th to 05:00Z on the 5th in New York. */
const ALL_DAY = vcal(['BEGIN:VEVENT', 'UID:allday@example.org', 'DTSTAMP:20060101T000000Z', 'DTSTART;VALUE=DATE:20060104', 'DTEND;VALUE=DATE:20060105', 'SUMMARY:All day', 'END:VEVENT']);
/** A daily series at 09:00Z (5 days from 2 January) whose alarm rings 15 min before each, repeated twice 5 min apart. */
const DAILY_ALARM = vcal([
  'BEGIN:VEVENT', 'UID:daily-alarm@example.org', 'DTSTAMP:20060101T000000Z', 'DTSTART:20060102T090000Z', 'DURATION:PT30M', 'RRULE:FREQ=DAILY;COUNT=5', 'SUMMARY:Daily',
  'BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Soon', 'TRIGGER:-PT15M', 'REPEAT:2', 'DURATION:PT5M', 'END:VALARM', 'END:VEVENT',
]);

let dir: string;
let dns: TestDns;
let node: NodeHandle;
let ca: Buffer;

function request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const auth = 'Basic ' + Buffer.from(`${USER.address}:${USER.password}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: node.ports.https, method, path, ca, servername: 'localhost', headers: { Authorization: auth, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const report = (path: string, body: string) => request('REPORT', path, body, { Depth: '1', 'Content-Type': 'application/xml; charset=utf-8' });
const put = (path: string, body: string) => request('PUT', path, body, { 'Content-Type': 'text/calendar; charset=utf-8' });

function mkcalendar(path: string, timezone?: string): Promise<{ status: number; body: string }> {
  const tz = timezone ? `<C:calendar-timezone><![CDATA[${timezone}]]></C:calendar-timezone>` : '';
  return request('MKCALENDAR', path, `<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>${path}</D:displayname>${tz}</D:prop></D:set></C:mkcalendar>`, { 'Content-Type': 'application/xml' });
}

/** calendar-data per resource name, unescaped, with folded lines joined. */
function dataByName(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of body.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)) {
    const name = /<d:href>[^<]*\/([^/<]+)<\/d:href>/.exec(m[1])?.[1];
    const data = /<cal:calendar-data>([\s\S]*?)<\/cal:calendar-data>/.exec(m[1])?.[1];
    if (name) out[name] = (data ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\r\n[ \t]/g, '');
  }
  return out;
}
const names = (body: string): string[] => Object.keys(dataByName(body)).sort();
const lines = (ics: string): string[] => ics.split(/\r?\n/).filter(Boolean);

function timeRangeQuery(comp: string, start: string, end: string, extra = ''): string {
  return `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
    <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="${comp}"><C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:filter>${extra}</C:calendar-query>`;
}
function alarmQuery(comp: string, start: string, end: string): string {
  return `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
    <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="${comp}"><C:comp-filter name="VALARM"><C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'haven-rfc4791-'));
  dns = await startTestDns();
  node = await startNode(testConfig(join(dir, 'data'), { dnsbl: [] }), { resolver: dns.resolver, adminUi: false });
  node.store.directory.addDomain('example.org');
  await node.store.createAccount(USER.address, USER.password);
  ca = readFileSync(node.certificate.certFile);
  expect((await mkcalendar(WORK)).status).toBe(201);
  expect((await mkcalendar(NY, US_EASTERN)).status).toBe(201);
  expect((await mkcalendar(UTC)).status).toBe(201);
  for (const f of readdirSync(FIX).filter((f) => f.endsWith('.ics'))) {
    const r = await put(WORK + f, readFileSync(join(FIX, f), 'utf8'));
    expect(r.status, `${f}: ${r.body}`).toBe(201);
  }
  for (const col of [NY, UTC]) {
    expect((await put(col + 'floating.ics', FLOATING)).status).toBe(201);
    expect((await put(col + 'allday.ics', ALL_DAY)).status).toBe(201);
  }
  expect((await put(UTC + 'daily-alarm.ics', DAILY_ALARM)).status).toBe(201);
});

afterAll(async () => {
  await node?.close();
  await dns?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('RFC 4791 §9.6.1 partial retrieval (the request of §7.8.1)', () => {
  it('returns only the named components and properties', async () => {
    const r = await report(
      WORK,
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data>
        <C:comp name="VCALENDAR"><C:prop name="VERSION"/>
          <C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="UID"/><C:prop name="DTSTART"/><C:prop name="DTEND"/><C:prop name="DURATION"/><C:prop name="RRULE"/><C:prop name="RDATE"/><C:prop name="EXRULE"/><C:prop name="EXDATE"/><C:prop name="RECURRENCE-ID"/></C:comp>
          <C:comp name="VTIMEZONE"/>
        </C:comp></C:calendar-data></D:prop>
        <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060104T000000Z" end="20060105T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
    );
    expect(r.status).toBe(207);
    const data = dataByName(r.body);
    expect(Object.keys(data).sort()).toEqual(['abcd2.ics', 'abcd3.ics']);
    const abcd3 = lines(data['abcd3.ics']);
    // VERSION only on the calendar: PRODID was not asked for.
    expect(abcd3).toContain('VERSION:2.0');
    expect(abcd3.some((l) => l.startsWith('PRODID'))).toBe(false);
    // The event keeps the named properties and loses the others.
    expect(abcd3).toEqual(expect.arrayContaining(['SUMMARY:Event #3', 'UID:DC6C50A017428C5216A2F1CD@example.com', 'DTSTART;TZID=US/Eastern:20060104T100000', 'DURATION:PT1H']));
    for (const gone of ['ATTENDEE', 'DTSTAMP', 'ORGANIZER', 'X-ABC-GUID', 'STATUS', 'SEQUENCE']) expect(abcd3.some((l) => l.startsWith(gone)), gone).toBe(false);
    // <C:comp name="VTIMEZONE"/> names no property: the zone comes whole, as in the RFC's own answer.
    expect(abcd3).toEqual(expect.arrayContaining(['BEGIN:VTIMEZONE', 'TZID:US/Eastern', 'BEGIN:DAYLIGHT', 'END:STANDARD', 'END:VTIMEZONE']));
    // The recurring event keeps its rule and its overrides' RECURRENCE-IDs.
    const abcd2 = lines(data['abcd2.ics']);
    expect(abcd2).toEqual(expect.arrayContaining(['RRULE:FREQ=DAILY;COUNT=5', 'RECURRENCE-ID;TZID=US/Eastern:20060104T120000']));
    expect(abcd2.some((l) => l.startsWith('DTSTAMP'))).toBe(false);
  });

  it('novalue="yes" returns the property without its value', async () => {
    const r = await report(
      WORK,
      `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:comp name="VCALENDAR"><C:allprop/><C:comp name="VEVENT"><C:prop name="UID"/><C:prop name="ATTENDEE" novalue="yes"/></C:comp></C:comp></C:calendar-data></D:prop><D:href>${WORK}abcd3.ics</D:href></C:calendar-multiget>`,
    );
    const ics = lines(dataByName(r.body)['abcd3.ics']);
    expect(ics).toContain('PRODID:-//Example Corp.//CalDAV Client//EN');
    expect(ics.filter((l) => l.startsWith('ATTENDEE'))).toEqual(['ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:', 'ATTENDEE;PARTSTAT=NEEDS-ACTION:']);
    expect(ics.some((l) => l.startsWith('BEGIN:VTIMEZONE'))).toBe(false);
  });
});

describe('RFC 4791 §9.6.5 expand (the request of §7.8.3)', () => {
  it('returns each instance in the range in UTC with its RECURRENCE-ID, the moved one included, without rules or time zones', async () => {
    const r = await report(
      WORK,
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:comp name="VCALENDAR"><C:comp name="VEVENT"/></C:comp><C:expand start="20060103T000000Z" end="20060105T000000Z"/></C:calendar-data></D:prop>
        <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060103T000000Z" end="20060105T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
    );
    expect(r.status).toBe(207);
    const data = dataByName(r.body);
    expect(Object.keys(data).sort()).toEqual(['abcd2.ics', 'abcd3.ics']);
    const events = (ics: string) =>
      [...ics.matchAll(/BEGIN:VEVENT\r?\n([\s\S]*?)END:VEVENT/g)].map((m) => lines(m[1]).filter((l) => /^(DTSTART|RECURRENCE-ID|SUMMARY|DURATION)/.test(l)).sort());
    // 3 January at 12:00 EST is 17:00Z; the 4 January instance was moved to 14:00 EST (19:00Z), its RECURRENCE-ID stays 17:00Z.
    expect(events(data['abcd2.ics'])).toEqual([
      ['DTSTART:20060103T170000Z', 'DURATION:PT1H', 'RECURRENCE-ID:20060103T170000Z', 'SUMMARY:Event #2'],
      ['DTSTART:20060104T190000Z', 'DURATION:PT1H', 'RECURRENCE-ID:20060104T170000Z', 'SUMMARY:Event #2 bis'],
    ]);
    expect(events(data['abcd3.ics'])).toEqual([['DTSTART:20060104T150000Z', 'DURATION:PT1H', 'SUMMARY:Event #3']]);
    for (const ics of Object.values(data)) {
      expect(ics).not.toMatch(/RRULE|RDATE|EXDATE|VTIMEZONE|TZID/);
      expect(ics).toMatch(/^BEGIN:VCALENDAR\r?\nVERSION:2.0/);
    }
  });
});

describe('RFC 4791 §9.6.5 expand of tasks and all-day series', () => {
  it("moves a task's DUE with each instance and keeps all-day instances as dates", async () => {
    const todo = vcal(['BEGIN:VTODO', 'UID:weekly-task@example.org', 'DTSTAMP:20060101T000000Z', 'DTSTART:20060102T090000Z', 'DUE:20060102T110000Z', 'RRULE:FREQ=WEEKLY;COUNT=3', 'SUMMARY:Report', 'END:VTODO']);
    const days = vcal(['BEGIN:VEVENT', 'UID:weekly-days@example.org', 'DTSTAMP:20060101T000000Z', 'DTSTART;VALUE=DATE:20060102', 'DTEND;VALUE=DATE:20060104', 'RRULE:FREQ=WEEKLY;COUNT=3', 'SUMMARY:Away', 'END:VEVENT']);
    expect((await put(UTC + 'weekly-task.ics', todo)).status).toBe(201);
    expect((await put(UTC + 'weekly-days.ics', days)).status).toBe(201);
    const r = await report(
      UTC,
      `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="20060108T000000Z" end="20060114T000000Z"/></C:calendar-data></D:prop><D:href>${UTC}weekly-task.ics</D:href><D:href>${UTC}weekly-days.ics</D:href></C:calendar-multiget>`,
    );
    const data = dataByName(r.body);
    expect(lines(data['weekly-task.ics']).filter((l) => /^(DTSTART|DUE|RECURRENCE-ID)/.test(l))).toEqual(['DTSTART:20060109T090000Z', 'DUE:20060109T110000Z', 'RECURRENCE-ID:20060109T090000Z']);
    expect(lines(data['weekly-days.ics']).filter((l) => /^(DTSTART|DTEND|RECURRENCE-ID)/.test(l))).toEqual(['DTSTART;VALUE=DATE:20060109', 'DTEND;VALUE=DATE:20060111', 'RECURRENCE-ID;VALUE=DATE:20060109']);
  });
});

describe('RFC 4791 §9.6.6 limit-recurrence-set (the request of §7.8.2)', () => {
  it('keeps the master and only the overrides that touch the range', async () => {
    const r = await report(
      WORK,
      `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:limit-recurrence-set start="20060103T000000Z" end="20060105T000000Z"/></C:calendar-data></D:prop>
        <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060103T000000Z" end="20060105T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
    );
    const abcd2 = dataByName(r.body)['abcd2.ics'];
    expect(abcd2).toContain('SUMMARY:Event #2\r\n');
    expect(abcd2).toContain('SUMMARY:Event #2 bis\r\n');
    expect(abcd2).not.toContain('Event #2 bis bis');
    expect(abcd2).toContain('BEGIN:VTIMEZONE');
  });
});

describe('RFC 4791 §9.9 VALARM time-range', () => {
  it('finds the task whose alarm rings in the range (the request of §7.8.5)', async () => {
    const r = await report(WORK, alarmQuery('VTODO', '20060106T100000Z', '20060107T100000Z'));
    expect(r.status).toBe(207);
    expect(names(r.body)).toEqual(['abcd5.ics']);
  });

  it('counts the alarm of every instance of a recurring event', async () => {
    // The fourth instance (5 January 09:00Z) rings at 08:45Z.
    expect(names((await report(UTC, alarmQuery('VEVENT', '20060105T084400Z', '20060105T084600Z'))).body)).toEqual(['daily-alarm.ics']);
    // After the last instance (6 January) nothing rings.
    expect(names((await report(UTC, alarmQuery('VEVENT', '20060107T084400Z', '20060107T084600Z'))).body)).toEqual([]);
  });

  it('counts each repetition (REPEAT:2, DURATION:PT5M rings at 08:45, 08:50 and 08:55) and nothing between', async () => {
    expect(names((await report(UTC, alarmQuery('VEVENT', '20060103T085400Z', '20060103T085600Z'))).body)).toEqual(['daily-alarm.ics']);
    expect(names((await report(UTC, alarmQuery('VEVENT', '20060103T085100Z', '20060103T085400Z'))).body)).toEqual([]);
    expect(names((await report(UTC, alarmQuery('VEVENT', '20060103T085600Z', '20060103T090100Z'))).body)).toEqual([]);
  });
});

describe('RFC 4791 §9.9 floating times and all-day events in the calendar zone', () => {
  it('reads a floating 10:00 as 15:00Z in a calendar whose calendar-timezone is US-Eastern (§5.2.2), as 10:00Z in one without', async () => {
    // (The all-day event covers all of these hours in both calendars.)
    expect(names((await report(NY, timeRangeQuery('VEVENT', '20060104T143000Z', '20060104T153000Z'))).body)).toEqual(['allday.ics', 'floating.ics']);
    expect(names((await report(NY, timeRangeQuery('VEVENT', '20060104T093000Z', '20060104T103000Z'))).body)).toEqual(['allday.ics']);
    expect(names((await report(UTC, timeRangeQuery('VEVENT', '20060104T093000Z', '20060104T103000Z'))).body)).toEqual(['allday.ics', 'floating.ics']);
    expect(names((await report(UTC, timeRangeQuery('VEVENT', '20060104T143000Z', '20060104T153000Z'))).body)).toEqual(['allday.ics']);
  });

  it('holds an all-day event from midnight to midnight in that zone (05:00Z to 05:00Z)', async () => {
    expect(names((await report(NY, timeRangeQuery('VEVENT', '20060105T020000Z', '20060105T040000Z'))).body)).toEqual(['allday.ics']);
    expect(names((await report(UTC, timeRangeQuery('VEVENT', '20060105T020000Z', '20060105T040000Z'))).body)).toEqual([]);
    expect(names((await report(NY, timeRangeQuery('VEVENT', '20060104T010000Z', '20060104T040000Z'))).body)).toEqual([]);
  });

  it("prefers the query's CALDAV:timezone (§9.8) to the calendar's", async () => {
    const tz = `<C:timezone><![CDATA[${TOKYO}]]></C:timezone>`;
    // In Tokyo the floating event is at 01:00Z and 4 January ends at 15:00Z.
    expect(names((await report(NY, timeRangeQuery('VEVENT', '20060104T003000Z', '20060104T013000Z', tz))).body)).toEqual(['allday.ics', 'floating.ics']);
    expect(names((await report(NY, timeRangeQuery('VEVENT', '20060104T143000Z', '20060104T153000Z', tz))).body)).toEqual(['allday.ics']);
    expect(names((await report(NY, timeRangeQuery('VEVENT', '20060104T153000Z', '20060104T163000Z', tz))).body)).toEqual([]);
  });

  it('free-busy-query (§7.10) reports the floating event busy at 15:00Z in New York', async () => {
    const r = await report(NY, '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20060104T120000Z" end="20060104T180000Z"/></C:free-busy-query>');
    expect(r.status).toBe(200);
    expect(r.body).toContain('FREEBUSY;FBTYPE=BUSY:20060104T120000Z/20060104T180000Z');
    const early = await report(NY, '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20060104T140000Z" end="20060104T150000Z"/></C:free-busy-query>');
    // Only the all-day event is busy before 15:00Z; the floating one is not there yet.
    expect(early.body.match(/^FREEBUSY.*$/gm)).toEqual(['FREEBUSY;FBTYPE=BUSY:20060104T140000Z/20060104T150000Z']);
    const utc = await report(UTC, '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20060105T020000Z" end="20060105T040000Z"/></C:free-busy-query>');
    expect(utc.body).not.toContain('FREEBUSY;');
    const ny = await report(NY, '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20060105T020000Z" end="20060105T040000Z"/></C:free-busy-query>');
    expect(ny.body).toContain('FREEBUSY;FBTYPE=BUSY:20060105T020000Z/20060105T040000Z');
  });

  it('expands a floating event into UTC through the calendar zone (§9.6.5)', async () => {
    const r = await report(NY, `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="20060101T000000Z" end="20060201T000000Z"/></C:calendar-data></D:prop><D:href>${NY}floating.ics</D:href></C:calendar-multiget>`);
    expect(dataByName(r.body)['floating.ics']).toContain('DTSTART:20060104T150000Z');
  });
});
