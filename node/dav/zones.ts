/**
 * @module node/dav/zones
 * Time zones as the CalDAV queries need them: the zone floating times and
 * all-day dates are evaluated in (RFC 4791 §9.9: the query's CALDAV:timezone,
 * else the calendar's CALDAV:calendar-timezone, §5.2.2; UTC when neither),
 * and the check that keeps a VTIMEZONE's observances cheap to expand.
 */
import { createHash } from 'node:crypto';
import ICAL from 'ical.js';
import { DavError, pre } from './errors.js';

type Comp = InstanceType<typeof ICAL.Component>;
type Time = InstanceType<typeof ICAL.Time>;

/** A zone for floating values; `key` tells span-cache entries apart. */
export interface FloatingZone {
  tz: InstanceType<typeof ICAL.Timezone>;
  key: string;
}

/** Wall-clock value (no zone of its own)? DATE values are floating too (RFC 5545 §3.3.4). */
export function isFloating(t: Time): boolean {
  return t.isDate || !t.zone || t.zone === ICAL.Timezone.localTimezone;
}

/** Milliseconds since the epoch; floating values are read in `zone` when one is given, else as UTC. */
export function msOf(t: Time, zone: FloatingZone | null = null): number {
  if (zone && isFloating(t)) {
    const c = t.clone();
    c.zone = zone.tz;
    return c.toUnixTime() * 1000;
  }
  return t.toUnixTime() * 1000;
}

const invalid = (why: string): DavError =>
  new DavError(403, pre.cal('valid-calendar-data'), `the calendar data is not valid iCalendar (${why}); fix the file and PUT it again`);

/**
 * Observances repeat yearly in every real zone database; a SECONDLY rule
 * from 1601 (a 327-byte VTIMEZONE) would otherwise ask for billions of
 * transitions. Refused with valid-calendar-data.
 */
export function checkTimezones(vcal: Comp): void {
  for (const tz of vcal.getAllSubcomponents('vtimezone')) {
    if (!tz.getFirstPropertyValue('tzid')) throw invalid('VTIMEZONE without TZID');
    for (const obs of tz.getAllSubcomponents()) {
      const rules = obs.getAllProperties('rrule');
      if (rules.length > 1) throw invalid(`time zone ${tz.getFirstPropertyValue('tzid')} has an observance with more than one RRULE`);
      const r = rules[0]?.getFirstValue() as InstanceType<typeof ICAL.Recur> | undefined;
      if (r && r.freq !== 'YEARLY')
        throw invalid(`time zone ${tz.getFirstPropertyValue('tzid')}: an observance must repeat yearly (FREQ=YEARLY), not ${r.freq}`);
      if (obs.getAllProperties('rdate').reduce((n, p) => n + p.getValues().length, 0) > 1000)
        throw invalid(`time zone ${tz.getFirstPropertyValue('tzid')}: more than 1000 RDATEs in one observance`);
    }
  }
}

const zoneCache = new Map<string, FloatingZone | null>();

/**
 * The zone in a CALDAV:timezone or calendar-timezone value (a VCALENDAR
 * holding one VTIMEZONE); null for none, for UTC, or for text that is not a
 * usable zone (validating calendar-timezone is PROPPATCH's business; a
 * query falls back to UTC rather than fail).
 */
export function zoneFromText(text: string | null | undefined): FloatingZone | null {
  if (!text || !text.trim()) return null;
  const cached = zoneCache.get(text);
  if (cached !== undefined) return cached;
  let zone: FloatingZone | null = null;
  try {
    const vcal = new ICAL.Component(ICAL.parse(text.trim()) as never);
    checkTimezones(vcal);
    const comp = vcal.name === 'vtimezone' ? vcal : vcal.getFirstSubcomponent('vtimezone');
    if (comp) {
      const tz = new ICAL.Timezone(comp);
      // Expands the observances once, here, under the step budget.
      tz.utcOffset(ICAL.Time.now());
      zone = { tz, key: createHash('sha256').update(text).digest('base64url').slice(0, 16) };
    }
  } catch {
    zone = null;
  }
  if (zoneCache.size > 200) zoneCache.clear();
  zoneCache.set(text, zone);
  return zone;
}
