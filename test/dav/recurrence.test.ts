/**
 * Recurring events against instances worked out by hand: a weekly series in
 * Europe/Berlin crossing the DST change, with an EXDATE and an override that
 * moves one instance to another day; an unbounded all-day yearly event; a
 * "last Friday" monthly rule; a task with only a DUE. Each time range is
 * chosen so that a wrong expansion (UTC instead of the zone, ignoring the
 * EXDATE or the override) gives a different answer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dav, startHarness, type DavHarness } from './helpers.js';

const ICS = join(import.meta.dirname, '..', 'fixtures', 'dav', 'ics');
const CAL = '/dav/calendars/alice@example.test/default/';
const TASKS = '/dav/calendars/alice@example.test/tasks/';
let h: DavHarness;

beforeAll(async () => {
  h = await startHarness({ accounts: [{ address: 'alice@example.test', password: 'correct horse battery' }] });
  for (const [file, col] of [['standup-berlin.ics', CAL], ['birthday-allday.ics', CAL], ['last-friday.ics', CAL], ['todo-due.ics', TASKS]] as const) {
    const r = await dav(h, 'PUT', col + file, { body: readFileSync(join(ICS, file), 'utf8'), headers: { 'Content-Type': 'text/calendar' } });
    expect(r.status, file + ' ' + r.text).toBe(201);
  }
});
afterAll(async () => h.close());

/**
 * Runs each query twice: as clients usually send it (answered from the
 * span cache) and with an extra always-true prop-filter, which forces the
 * full filter evaluation; both must agree.
 */
async function query(start: string, end: string, comp = 'VEVENT', col = CAL): Promise<string[]> {
  const fast = await query1(start, end, comp, col, '');
  const full = await query1(start, end, comp, col, '<C:prop-filter name="UID"/>');
  expect(full).toEqual(fast);
  return fast;
}

async function query1(start: string, end: string, comp: string, col: string, extra: string): Promise<string[]> {
  const r = await dav(h, 'REPORT', col, {
    headers: { Depth: '1' },
    body: `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
      <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="${comp}"><C:time-range start="${start}" end="${end}"/>${extra}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
  });
  expect(r.status).toBe(207);
  return [...r.text.matchAll(/<d:href>[^<]*\/([^/<]+)<\/d:href>/g)].map((m) => m[1]).sort();
}

async function expand(start: string, end: string): Promise<string[]> {
  const r = await dav(h, 'REPORT', CAL, {
    headers: { Depth: '1' },
    body: `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="${start}" end="${end}"/></C:calendar-data></D:prop>
      <D:href>${CAL}standup-berlin.ics</D:href></C:calendar-multiget>`,
  });
  expect(r.status).toBe(207);
  return [...r.text.matchAll(/DTSTART:(\d{8}T\d{6}Z)/g)].map((m) => m[1]);
}

describe('weekly series in Europe/Berlin with EXDATE and a moved instance', () => {
  it('finds an ordinary instance at its local time (08:30Z in winter)', async () => {
    expect(await query('20260112T082900Z', '20260112T083100Z')).toEqual(['standup-berlin.ics']);
    expect(await query('20260112T093000Z', '20260112T100000Z')).toEqual([]);
  });
  it('skips the EXDATE instance (19 January)', async () => {
    expect(await query('20260119T000000Z', '20260120T000000Z')).toEqual([]);
  });
  it('moves the overridden instance from Monday 26 January to Tuesday 27 January 13:00Z', async () => {
    expect(await query('20260126T000000Z', '20260127T000000Z')).toEqual([]);
    expect(await query('20260127T125900Z', '20260127T130100Z')).toEqual(['standup-berlin.ics']);
  });
  it('follows the DST change: 30 March is at 07:30Z, not 08:30Z', async () => {
    expect(await query('20260330T072900Z', '20260330T073100Z')).toEqual(['standup-berlin.ics']);
    expect(await query('20260330T082900Z', '20260330T090000Z')).toEqual([]);
  });
  it('ends after COUNT=13 (last instance 30 March)', async () => {
    expect(await query('20260331T000000Z', '20260601T000000Z')).toEqual([]);
  });
  it('expands January into exactly the hand-listed instances', async () => {
    expect(await expand('20260101T000000Z', '20260201T000000Z')).toEqual(['20260105T083000Z', '20260112T083000Z', '20260127T130000Z']);
  });
});

describe('other rules', () => {
  it('an unbounded yearly all-day event matches its day decades later, and not the next day', async () => {
    expect(await query('20310615T120000Z', '20310615T130000Z')).toContain('birthday-allday.ics');
    expect(await query('20310616T000000Z', '20310617T000000Z')).not.toContain('birthday-allday.ics');
  });
  it('last Friday of the month: 27 February and 27 March 2026, not 20 February, nothing after UNTIL', async () => {
    expect(await query('20260227T000000Z', '20260228T000000Z')).toEqual(['last-friday.ics']);
    expect(await query('20260327T160000Z', '20260327T163000Z')).toEqual(['last-friday.ics']);
    expect(await query('20260220T000000Z', '20260221T000000Z')).toEqual([]);
    expect(await query('20260424T000000Z', '20260425T000000Z')).toEqual([]);
  });
  it('a task with only DUE matches a range containing DUE', async () => {
    expect(await query('20260415T000000Z', '20260416T000000Z', 'VTODO', TASKS)).toEqual(['todo-due.ics']);
    expect(await query('20260416T000000Z', '20260417T000000Z', 'VTODO', TASKS)).toEqual([]);
  });
  it('free-busy merges the opaque instances and marks tentative ones, leaving out transparent events', async () => {
    const r = await dav(h, 'REPORT', CAL, {
      headers: { Depth: '1' },
      body: '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260126T000000Z" end="20260201T000000Z"/></C:free-busy-query>',
    });
    expect(r.status).toBe(200);
    const lines = r.text.split('\r\n').filter((l) => l.startsWith('FREEBUSY'));
    expect(lines).toEqual(['FREEBUSY;FBTYPE=BUSY:20260127T130000Z/20260127T131500Z', 'FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260130T160000Z/20260130T170000Z']);
  });
});
