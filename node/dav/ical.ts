/**
 * @module node/dav/ical
 * iCalendar through ical.js: validating a calendar object resource on PUT
 * (RFC 4791 §4.1), the time span it covers (for the store's range index),
 * recurrence expansion with exceptions, and the time-range tests of RFC 4791
 * §9.9 that calendar-query and free-busy-query share.
 */
import ICAL from 'ical.js';
import { DavError, pre } from './errors.js';

type Comp = InstanceType<typeof ICAL.Component>;
type Time = InstanceType<typeof ICAL.Time>;

/** Upper bound on instances walked per object, so a FREQ=SECONDLY rule cannot pin the CPU. */
export const MAX_INSTANCES = 20_000;

export interface Range {
  start: number;
  end: number;
}

export interface ParsedCalendar {
  vcal: Comp;
  uid: string;
  component: string;
  firstStart: number | null;
  lastEnd: number | null;
}

const invalid = (why: string): DavError =>
  new DavError(403, pre.cal('valid-calendar-data'), `the calendar data is not valid iCalendar (${why}); fix the file and PUT it again`);
const badObject = (why: string): DavError =>
  new DavError(403, pre.cal('valid-calendar-object-resource'), `${why}; a calendar object holds one event, task or journal (with its exceptions)`);

/** Parses text into a VCALENDAR component or throws valid-calendar-data. */
export function parseVCalendar(text: string): Comp {
  if (!/^BEGIN:VCALENDAR\r?\n/i.test(text.replace(/^\uFEFF/, ''))) throw invalid('it does not start with BEGIN:VCALENDAR');
  let jcal: unknown;
  try {
    jcal = ICAL.parse(text);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (Array.isArray(jcal) && Array.isArray(jcal[0])) {
    if (jcal.length !== 1) throw invalid('more than one VCALENDAR in one resource');
    jcal = jcal[0];
  }
  const vcal = new ICAL.Component(jcal as never);
  if (vcal.name !== 'vcalendar') throw invalid('the top component is not VCALENDAR');
  return vcal;
}

export function toMs(t: Time): number {
  return t.toUnixTime() * 1000;
}

/** Reads every date property so lazy decoding errors surface at PUT, not at REPORT time. */
function checkDates(c: Comp): void {
  for (const name of ['dtstart', 'dtend', 'due', 'recurrence-id', 'duration', 'rrule', 'exdate', 'rdate']) {
    for (const p of c.getAllProperties(name)) {
      try {
        for (const v of p.getValues()) {
          if (v && typeof v === 'object' && 'toUnixTime' in v && !Number.isFinite((v as Time).toUnixTime())) throw new Error(`bad ${name}`);
        }
      } catch (err) {
        throw invalid(`${name.toUpperCase()}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * RFC 4791 §4.1: one component type, one UID across master and overrides,
 * no METHOD; the component type must be one the calendar supports.
 */
export function parseCalendarObject(text: string, supported: string[]): ParsedCalendar {
  const vcal = parseVCalendar(text);
  if (vcal.getFirstProperty('method')) throw badObject('METHOD is not allowed in a stored calendar object (it belongs to iTIP messages)');
  const comps = vcal.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  if (comps.length === 0) throw badObject('no VEVENT, VTODO or VJOURNAL in the calendar');
  const type = comps[0].name;
  if (!['vevent', 'vtodo', 'vjournal', 'vfreebusy'].includes(type)) throw badObject(`unsupported component ${type.toUpperCase()}`);
  if (comps.some((c) => c.name !== type)) throw badObject('more than one component type in one resource');
  const uids = new Set(comps.map((c) => c.getFirstPropertyValue('uid')));
  if (uids.size !== 1) throw badObject('components with different UIDs in one resource');
  const uid = [...uids][0];
  if (typeof uid !== 'string' || uid.trim() === '') throw badObject('the component has no UID');
  if (supported.length && !supported.includes(type.toUpperCase()))
    throw new DavError(403, pre.cal('supported-calendar-component'), `this calendar holds only ${supported.join(', ')}; put a ${type.toUpperCase()} into a calendar that supports it`);
  for (const c of comps) checkDates(c);
  if (type === 'vevent' && comps.some((c) => !c.getFirstProperty('dtstart'))) throw invalid('VEVENT without DTSTART');
  const span = spanOf(vcal, type);
  return { vcal, uid, component: type.toUpperCase(), ...span };
}

/** The master component and its RECURRENCE-ID overrides, related for ical.js. */
function events(vcal: Comp, type: string): InstanceType<typeof ICAL.Event>[] {
  const comps = vcal.getAllSubcomponents(type);
  const masters = comps.filter((c) => !c.getFirstProperty('recurrence-id'));
  const overrides = comps.filter((c) => c.getFirstProperty('recurrence-id'));
  if (masters.length === 0) return overrides.map((c) => new ICAL.Event(c));
  return masters.map((m) => new ICAL.Event(m, { exceptions: overrides, strictExceptions: false }));
}

/** Start and end of a non-recurring component (RFC 4791 §9.9 rules for missing ends). */
function componentSpan(c: Comp): { start: number; end: number } | null {
  const dtstart = c.getFirstPropertyValue('dtstart') as Time | null;
  if (c.name === 'vtodo') {
    const due = c.getFirstPropertyValue('due') as Time | null;
    const dur = c.getFirstPropertyValue('duration') as InstanceType<typeof ICAL.Duration> | null;
    if (dtstart) {
      const s = toMs(dtstart);
      if (due) return { start: s, end: Math.max(s, toMs(due)) };
      if (dur) return { start: s, end: s + dur.toSeconds() * 1000 };
      return { start: s, end: s };
    }
    if (due) return { start: toMs(due), end: toMs(due) };
    const completed = c.getFirstPropertyValue('completed') as Time | null;
    const created = c.getFirstPropertyValue('created') as Time | null;
    if (completed || created) {
      const a = toMs((created ?? completed)!);
      const b = toMs((completed ?? created)!);
      return { start: Math.min(a, b), end: Math.max(a, b) };
    }
    return null;
  }
  if (!dtstart) return null;
  const ev = new ICAL.Event(c);
  return { start: toMs(ev.startDate), end: toMs(ev.endDate) };
}

/** First start and last end across all instances; lastEnd null when the rule never ends. */
function spanOf(vcal: Comp, type: string): { firstStart: number | null; lastEnd: number | null } {
  if (type !== 'vevent' && type !== 'vtodo' && type !== 'vjournal') return { firstStart: null, lastEnd: null };
  let first = Infinity;
  let last = -Infinity;
  let unbounded = false;
  for (const c of vcal.getAllSubcomponents(type)) {
    const s = componentSpan(c);
    if (!s) {
      unbounded = true; // no dates: matches every time range (RFC 4791 §9.9 VTODO without dates)
      first = -Infinity;
      continue;
    }
    first = Math.min(first, s.start);
    last = Math.max(last, s.end);
    const rrule = c.getFirstPropertyValue('rrule') as InstanceType<typeof ICAL.Recur> | null;
    if (rrule && !c.getFirstProperty('recurrence-id')) {
      if (!rrule.until && !rrule.count) {
        unbounded = true;
        continue;
      }
      const dur = s.end - s.start;
      const ev = new ICAL.Event(c);
      const it = ev.iterator();
      let n = 0;
      for (let t = it.next(); t; t = it.next()) {
        last = Math.max(last, toMs(t) + dur);
        if (++n > MAX_INSTANCES) {
          unbounded = true;
          break;
        }
      }
    }
    for (const p of c.getAllProperties('rdate')) {
      for (const v of p.getValues()) {
        const t = (v && typeof v === 'object' && 'start' in v ? (v as { start: Time }).start : v) as Time;
        if (t && typeof t === 'object' && 'toUnixTime' in t) last = Math.max(last, toMs(t) + (s.end - s.start));
      }
    }
  }
  return { firstStart: Number.isFinite(first) ? first : null, lastEnd: unbounded || !Number.isFinite(last) ? null : last };
}

/** RFC 4791 §9.9 overlap: a zero-length instance matches a range that contains its start. */
export function overlaps(s: number, e: number, r: Range): boolean {
  return e > s ? r.start < e && r.end > s : r.start <= s && r.end > s;
}

export interface Instance {
  start: number;
  end: number;
  item: Comp;
  recurrenceId: Time | null;
  startTime: Time;
}

/**
 * Instances of one component type overlapping a range, recurrences expanded
 * and RECURRENCE-ID overrides applied (an override may move an instance into
 * or out of the range).
 */
export function instancesIn(vcal: Comp, type: string, r: Range): Instance[] {
  const out: Instance[] = [];
  if (type !== 'vevent') {
    for (const c of vcal.getAllSubcomponents(type)) {
      const s = componentSpan(c);
      if (!s) out.push({ start: -Infinity, end: Infinity, item: c, recurrenceId: null, startTime: ICAL.Time.epochTime });
      else if (overlaps(s.start, s.end, r)) out.push({ ...s, item: c, recurrenceId: null, startTime: c.getFirstPropertyValue('dtstart') as Time });
    }
    return out;
  }
  for (const ev of events(vcal, type)) {
    if (!ev.isRecurring()) {
      const s = toMs(ev.startDate);
      const e = toMs(ev.endDate);
      if (overlaps(s, e, r)) out.push({ start: s, end: e, item: ev.component, recurrenceId: null, startTime: ev.startDate });
      // Overrides whose master is missing are standalone instances.
      continue;
    }
    const it = ev.iterator();
    let n = 0;
    // Overrides can move an instance earlier than its slot; the longest move
    // we look back for is bounded by scanning from the series start.
    for (let t = it.next(); t; t = it.next()) {
      if (++n > MAX_INSTANCES) break;
      const d = ev.getOccurrenceDetails(t);
      const s = toMs(d.startDate);
      const e = toMs(d.endDate);
      if (overlaps(s, e, r)) out.push({ start: s, end: e, item: d.item.component, recurrenceId: d.recurrenceId, startTime: d.startDate });
      // Stop once slots are past the range and no override can pull one back.
      if (toMs(t) >= r.end && !hasLaterOverride(ev, t)) break;
    }
  }
  return out;
}

function hasLaterOverride(ev: InstanceType<typeof ICAL.Event>, t: Time): boolean {
  const key = t.toString();
  for (const k of Object.keys(ev.exceptions)) if (k > key) return true;
  return false;
}

/** Parses a CalDAV time-range attribute value (UTC date-time, "20060104T000000Z"). */
export function parseUtc(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v.trim());
  if (!m) throw new DavError(400, pre.cal('valid-filter'), `time-range value "${v}" is not a UTC date-time like 20260101T000000Z`);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/** Formats ms as an iCalendar UTC date-time. */
export function formatUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
