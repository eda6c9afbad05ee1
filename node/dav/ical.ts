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
  /** Lowercase component name, as ical.js names it. */
  type: string;
  spans: Spans;
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
  const spans = ['vevent', 'vtodo', 'vjournal'].includes(type) ? computeSpans(vcal, type) : { spans: new Float64Array(), complete: false, until: -Infinity };
  return { vcal, type, spans, uid, component: type.toUpperCase(), ...spanOf(spans) };
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

export interface Instance {
  start: number;
  end: number;
  item: Comp;
  recurrenceId: Time | null;
  startTime: Time;
}

/**
 * Every instance of one component type, in slot order: masters expanded
 * (RRULE, RDATE, EXDATE through ical.js), each slot replaced by its
 * RECURRENCE-ID override when there is one, overrides without a master as
 * they are. Ordinary slots are computed as slot + the master's duration
 * rather than through getOccurrenceDetails, which is several times slower.
 * Components without dates yield one instance spanning all time.
 */
export function* occurrences(vcal: Comp, type: string): Generator<Instance> {
  const comps = vcal.getAllSubcomponents(type);
  const masters = comps.filter((c) => !c.getFirstProperty('recurrence-id'));
  const overrides = new Map<number, Comp>();
  for (const c of comps) {
    const rid = c.getFirstPropertyValue('recurrence-id') as Time | null;
    if (rid) overrides.set(toMs(rid), c);
  }
  const used = new Set<number>();
  for (const m of masters) {
    const span = componentSpan(m);
    if (!span) {
      yield { start: -Infinity, end: Infinity, item: m, recurrenceId: null, startTime: ICAL.Time.epochTime };
      continue;
    }
    const recurring = type !== 'vtodo' || m.getFirstProperty('dtstart');
    if (!recurring || (!m.getFirstProperty('rrule') && !m.getFirstProperty('rdate'))) {
      yield { ...span, item: m, recurrenceId: null, startTime: (m.getFirstPropertyValue('dtstart') ?? m.getFirstPropertyValue('due')) as Time };
      continue;
    }
    const dur = span.end - span.start;
    const it = new ICAL.Event(m).iterator();
    let n = 0;
    for (let t = it.next(); t; t = it.next()) {
      if (++n > MAX_INSTANCES) return;
      const slot = toMs(t);
      const o = overrides.get(slot);
      if (o) {
        used.add(slot);
        const os = componentSpan(o);
        if (os) yield { ...os, item: o, recurrenceId: t, startTime: o.getFirstPropertyValue('dtstart') as Time };
      } else yield { start: slot, end: slot + dur, item: m, recurrenceId: t, startTime: t };
    }
  }
  // Overrides for slots the series does not produce (or with no master at all).
  for (const [slot, o] of overrides) {
    if (used.has(slot)) continue;
    const os = componentSpan(o);
    if (os) yield { ...os, item: o, recurrenceId: o.getFirstPropertyValue('recurrence-id') as Time, startTime: o.getFirstPropertyValue('dtstart') as Time };
  }
}

/** First start and last end across all instances (from the spans); lastEnd null when the list is open-ended. */
function spanOf(sp: Spans): { firstStart: number | null; lastEnd: number | null } {
  let first = Infinity;
  let last = -Infinity;
  const a = sp.spans;
  for (let k = 0; k < a.length; k += 2) {
    first = Math.min(first, a[k]);
    last = Math.max(last, a[k + 1]);
  }
  return { firstStart: Number.isFinite(first) ? first : null, lastEnd: sp.complete && Number.isFinite(last) ? last : null };
}

/** RFC 4791 §9.9 overlap: a zero-length instance matches a range that contains its start. */
export function overlaps(s: number, e: number, r: Range): boolean {
  return e > s ? r.start < e && r.end > s : r.start <= s && r.end > s;
}

/**
 * Instances of one component type overlapping a range. Walks slots in
 * order and stops past the range end, except that overrides (which may
 * move an instance back into the range) are always looked at.
 */
export function instancesIn(vcal: Comp, type: string, r: Range): Instance[] {
  const out: Instance[] = [];
  const hasOverrides = vcal.getAllSubcomponents(type).some((c) => c.getFirstProperty('recurrence-id'));
  for (const i of occurrences(vcal, type)) {
    if (overlaps(i.start, i.end, r)) out.push(i);
    else if (!hasOverrides && i.recurrenceId && i.start >= r.end) break;
  }
  return out;
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

// ------------------------------------------------------------ span cache

/**
 * Instance spans per object, keyed by ETag (a hash of the content, so an
 * entry can never be stale). ical.js walks a recurrence at tens of
 * microseconds per step; time-range queries over a few hundred recurring
 * events would otherwise re-walk every series on every query.
 */
export interface Spans {
  /** start0, end0, start1, end1, ... in slot order. */
  spans: Float64Array;
  /** Every instance is listed; otherwise only those with a slot before `until`. */
  complete: boolean;
  until: number;
}
const CACHE_MAX = 50_000;
const CACHED_INSTANCES = 2_000;
const spanCache = new Map<string, Spans>();

function computeSpans(vcal: Comp, type: string): Spans {
  const out: number[] = [];
  let complete = true;
  let until = Infinity;
  let n = 0;
  for (const i of occurrences(vcal, type)) {
    if (++n > CACHED_INSTANCES) {
      complete = false;
      until = i.recurrenceId ? toMs(i.recurrenceId) : i.start;
      break;
    }
    out.push(i.start, i.end);
  }
  return { spans: Float64Array.from(out), complete, until };
}

function remember(etag: string, s: Spans): Spans {
  spanCache.delete(etag);
  spanCache.set(etag, s);
  if (spanCache.size > CACHE_MAX) spanCache.delete(spanCache.keys().next().value as string);
  return s;
}

/** Primes the cache at PUT time with the spans computed while validating. */
export function primeSpans(etag: string, parsed: ParsedCalendar): void {
  if (parsed.spans.spans.length) remember(etag, parsed.spans);
}

/** Whether any instance of the object overlaps the range, from the cache when it can. */
export function objectOverlaps(etag: string, data: string, type: string, r: Range): boolean {
  const t = type.toLowerCase();
  let s = spanCache.get(etag);
  if (!s) s = remember(etag, computeSpans(parseVCalendar(data), t));
  if (!s.complete && r.end > s.until) return instancesIn(parseVCalendar(data), t, r).length > 0;
  const a = s.spans;
  for (let k = 0; k < a.length; k += 2) if (overlaps(a[k], a[k + 1], r)) return true;
  return false;
}
