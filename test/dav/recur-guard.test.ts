/**
 * The recurrence guard on its own (node/dav/recur-guard.ts), without a
 * server: RRULEs (RFC 5545 §3.3.10) that never produce a date, or produce
 * too many, stop at the budget instead of spinning; time-zone offsets in far
 * years come from the same date 28 years earlier instead of a quadratic
 * re-expansion; legitimate sparse rules still expand.
 */
import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { instancesIn, parseCalendarObject, parseVCalendar } from '../../node/dav/ical.js';
import { GAP_STEPS, RecurrenceLimitError, withRecurrenceBudget } from '../../node/dav/recur-guard.js';

const vcal = (body: string[]): string => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven test//EN', ...body, 'END:VCALENDAR', ''].join('\r\n');
const event = (rule: string, start = 'DTSTART:20260101T000000Z', extra: string[] = []) =>
  vcal([...extra, 'BEGIN:VEVENT', 'UID:g@example.org', 'DTSTAMP:20260101T000000Z', start, 'DURATION:PT1H', `RRULE:${rule}`, 'END:VEVENT']);
/** RFC 5545 §3.6.5's America/New_York (the rules in force since 2007). */
const NEW_YORK = [
  'BEGIN:VTIMEZONE', 'TZID:America/New_York',
  'BEGIN:DAYLIGHT', 'DTSTART:20070311T020000', 'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU', 'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'TZNAME:EDT', 'END:DAYLIGHT',
  'BEGIN:STANDARD', 'DTSTART:20071104T020000', 'RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU', 'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'TZNAME:EST', 'END:STANDARD',
  'END:VTIMEZONE',
];

function firstInstances(text: string, n: number): number {
  const it = new ICAL.Event(parseVCalendar(text).getFirstSubcomponent('vevent')!).iterator();
  let k = 0;
  for (let t = it.next(); t && k < n; t = it.next()) k++;
  return k;
}

describe('the step budget counts iterations, not instances', () => {
  it('stops FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30 (no such date exists) with a gap error', () => {
    const err = (() => {
      try {
        withRecurrenceBudget(() => firstInstances(event('FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30'), 1));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RecurrenceLimitError);
    expect((err as RecurrenceLimitError).kind).toBe('gap');
    expect((err as Error).message).toContain(String(GAP_STEPS));
  });

  it('stops a huge INTERVAL, which ical.js walks one day at a time', () => {
    expect(() => withRecurrenceBudget(() => firstInstances(event('FREQ=DAILY;INTERVAL=2000000000'), 3))).toThrow(RecurrenceLimitError);
  });

  it('bounds work outside any explicit budget too (one budget per synchronous stretch)', () => {
    expect(() => firstInstances(event('FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=31'), 1)).toThrow(RecurrenceLimitError);
  });

  it('still expands sparse legitimate rules: 29 February every year', () => {
    const text = event('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29', 'DTSTART;VALUE=DATE:20240229');
    expect(withRecurrenceBudget(() => firstInstances(text, 5))).toBe(5);
    expect(parseCalendarObject(text, []).uid).toBe('g@example.org');
  });
});

describe('time-zone offsets in far years', () => {
  const yearly = event('FREQ=YEARLY', 'DTSTART;TZID=America/New_York:20260704T120000', NEW_YORK);

  it('puts 4 July 12:00 New York time at 16:00Z (EDT) in 2026, 3000 and 9000', () => {
    const v = parseVCalendar(yearly);
    for (const y of [2026, 3000, 9000]) {
      const r = { start: Date.UTC(y, 6, 4, 0), end: Date.UTC(y, 6, 5, 0) };
      const found = withRecurrenceBudget(() => instancesIn(v, 'vevent', r), 1_000_000, 60_000);
      expect(found.map((i) => new Date(i.start).toISOString()), String(y)).toEqual([`${y}-07-04T16:00:00.000Z`]);
    }
  });

  it('refuses an observance that does not repeat yearly (a 1601 FREQ=SECONDLY zone) before expanding it', () => {
    const bomb = vcal([
      'BEGIN:VTIMEZONE', 'TZID:Bomb', 'BEGIN:STANDARD', 'DTSTART:16010101T000000', 'RRULE:FREQ=SECONDLY', 'TZOFFSETFROM:+0000', 'TZOFFSETTO:+0000', 'END:STANDARD', 'END:VTIMEZONE',
      'BEGIN:VEVENT', 'UID:b@example.org', 'DTSTAMP:20260101T000000Z', 'DTSTART;TZID=Bomb:20260101T100000', 'END:VEVENT',
    ]);
    const before = process.memoryUsage().heapUsed;
    expect(() => parseCalendarObject(bomb, [])).toThrow(/repeat yearly/);
    // Even read without the PUT check, the zone is not expanded.
    const dt = parseVCalendar(bomb).getFirstSubcomponent('vevent')!.getFirstPropertyValue('dtstart') as InstanceType<typeof ICAL.Time>;
    expect(() => dt.toUnixTime()).toThrow(RecurrenceLimitError);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 * 1024 * 1024);
  });
});
