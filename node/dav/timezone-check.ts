/**
 * @module node/dav/timezone-check
 * Time zone definitions a calendar must carry, checked when data is
 * written: every TZID a calendar object names has its VTIMEZONE (RFC 4791
 * §4.1, RFC 5545 §3.2.19), and a calendar's CALDAV:calendar-timezone is one
 * VTIMEZONE and nothing else (RFC 4791 §5.2.2). Without them a floating or
 * zoned time cannot be placed on the time line, and a query would guess.
 */
import ICAL from 'ical.js';
import { DavError, pre } from './errors.js';
import { parseVCalendar } from './ical.js';

type Comp = InstanceType<typeof ICAL.Component>;

function tzids(c: Comp, into: Set<string>): Set<string> {
  for (const p of c.getAllProperties()) {
    const tz = p.getParameter('tzid');
    if (typeof tz === 'string') into.add(tz);
  }
  for (const s of c.getAllSubcomponents()) if (s.name !== 'vtimezone') tzids(s, into);
  return into;
}

/** RFC 4791 §4.1: a VTIMEZONE for each unique TZID parameter value. */
export function checkTimezones(vcal: Comp): void {
  const defined = new Set(vcal.getAllSubcomponents('vtimezone').map((z) => String(z.getFirstPropertyValue('tzid') ?? '')));
  const missing = [...tzids(vcal, new Set())].filter((tz) => !defined.has(tz));
  if (missing.length)
    throw new DavError(
      403,
      pre.cal('valid-calendar-data'),
      `TZID=${missing.slice(0, 3).join(', ')} is used without its VTIMEZONE; a calendar object carries the VTIMEZONE of every TZID it names (RFC 4791 §4.1)`,
    );
}

/**
 * RFC 4791 §5.2.2: the property holds an iCalendar object with exactly one
 * VTIMEZONE (with a TZID and at least one STANDARD or DAYLIGHT, RFC 5545
 * §3.6.5). Returns why it is not, or null when it is.
 */
export function calendarTimezoneProblem(text: string): string | null {
  let vcal: Comp;
  try {
    vcal = parseVCalendar(text.replace(/\r?\n/g, '\r\n'));
  } catch (err) {
    return err instanceof DavError ? err.message : 'it is not iCalendar';
  }
  const comps = vcal.getAllSubcomponents();
  if (comps.length !== 1 || comps[0].name !== 'vtimezone') return 'calendar-timezone holds a VCALENDAR with exactly one VTIMEZONE and no other component';
  const tz = comps[0];
  if (!tz.getFirstPropertyValue('tzid')) return 'the VTIMEZONE has no TZID';
  if (!tz.getFirstSubcomponent('standard') && !tz.getFirstSubcomponent('daylight')) return 'the VTIMEZONE has no STANDARD or DAYLIGHT rule';
  return null;
}
