/**
 * @module node/dav/ical
 * iCalendar through ical.js: validating a calendar object resource on PUT
 * (RFC 4791 §4.1), the time span it covers (for the store's range index),
 * recurrence expansion with exceptions, and the time-range tests of RFC 4791
 * §9.9 that calendar-query and free-busy-query share. Every expansion runs
 * under the budget of ./recur-guard; floating times are read in the zone the
 * caller passes (./zones).
 */
import ICAL from 'ical.js';
import { DavError, pre } from './errors.js';
import { createBudget, installRecurrenceGuard, RecurrenceLimitError, runWithBudget, withRecurrenceBudget } from './recur-guard.js';
import { checkTimezones, msOf, type FloatingZone } from './zones.js';

installRecurrenceGuard();

type Comp = InstanceType<typeof ICAL.Component>;
type Time = InstanceType<typeof ICAL.Time>;

/**
 * The most instances of one object walked for one query (CALDAV:max-instances,
 * RFC 4791 §5.2.8), and the density PUT allows: no more than this many
 * within OPEN_RANGE_MS of the first instance.
 */
export const MAX_INSTANCES = 20_000;
/** An open-ended time-range (RFC 4791 §9.9, start without end) ends this long after its start or now, whichever is later. */
export const OPEN_RANGE_YEARS = 10;
export const OPEN_RANGE_MS = OPEN_RANGE_YEARS * 365.25 * 86_400_000;
/** The sentinel an absent time-range end parses to. */
export const FOREVER = 8.64e15;

/** Clamps an open end to the documented horizon, so "everything from now on" is a bounded walk. */
export function clampRange(r: Range, now = Date.now()): Range {
  return r.end >= FOREVER ? { start: r.start, end: Math.max(r.start, now) + OPEN_RANGE_MS } : r;
}

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

export function toMs(t: Time, zone: FloatingZone | null = null): number {
  return msOf(t, zone);
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
  checkTimezones(vcal);
  let spans: Spans;
  try {
    spans = withRecurrenceBudget(() => {
      for (const c of comps) checkDates(c);
      return ['vevent', 'vtodo', 'vjournal'].includes(type) ? computeSpans(vcal, type, null) : { spans: new Float64Array(), complete: false, until: -Infinity };
    });
  } catch (err) {
    if (err instanceof RecurrenceLimitError) throw invalid(`${err.message}; simplify the RRULE`);
    throw err;
  }
  if (type === 'vevent' && comps.some((c) => !c.getFirstProperty('dtstart'))) throw invalid('VEVENT without DTSTART');
  const bounds = spanOf(spans);
  // Density: the first CACHED_INSTANCES within a proportional slice of the horizon means more than MAX_INSTANCES within it.
  if (!spans.complete && bounds.firstStart !== null && spans.until - bounds.firstStart < (OPEN_RANGE_MS * CACHED_INSTANCES) / MAX_INSTANCES)
    throw new DavError(
      403,
      pre.cal('max-instances'),
      `the recurrence has more than ${MAX_INSTANCES} instances within ${OPEN_RANGE_YEARS} years; repeat less often or end the rule sooner (COUNT)`,
    );
  return { vcal, type, spans, uid, component: type.toUpperCase(), ...bounds };
}

/** Start and end of a non-recurring component (RFC 4791 §9.9 rules for missing ends). */
export function componentSpan(c: Comp, zone: FloatingZone | null = null): { start: number; end: number } | null {
  const dtstart = c.getFirstPropertyValue('dtstart') as Time | null;
  if (c.name === 'vtodo') {
    const due = c.getFirstPropertyValue('due') as Time | null;
    const dur = c.getFirstPropertyValue('duration') as InstanceType<typeof ICAL.Duration> | null;
    if (dtstart) {
      const s = toMs(dtstart, zone);
      if (due) return { start: s, end: Math.max(s, toMs(due, zone)) };
      if (dur) return { start: s, end: s + dur.toSeconds() * 1000 };
      return { start: s, end: s };
    }
    if (due) return { start: toMs(due, zone), end: toMs(due, zone) };
    const completed = c.getFirstPropertyValue('completed') as Time | null;
    const created = c.getFirstPropertyValue('created') as Time | null;
    if (completed || created) {
      const a = toMs((created ?? completed)!, zone);
      const b = toMs((completed ?? created)!, zone);
      return { start: Math.min(a, b), end: Math.max(a, b) };
    }
    return null;
  }
  if (!dtstart) return null;
  const ev = new ICAL.Event(c);
  return { start: toMs(ev.startDate, zone), end: toMs(ev.endDate, zone) };
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
export function* occurrences(vcal: Comp, type: string, zone: FloatingZone | null = null): Generator<Instance> {
  const comps = vcal.getAllSubcomponents(type);
  const masters = comps.filter((c) => !c.getFirstProperty('recurrence-id'));
  const overrides = new Map<number, Comp>();
  for (const c of comps) {
    const rid = c.getFirstPropertyValue('recurrence-id') as Time | null;
    if (rid) overrides.set(toMs(rid, zone), c);
  }
  const used = new Set<number>();
  for (const m of masters) {
    const span = componentSpan(m, zone);
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
      const slot = toMs(t, zone);
      const o = overrides.get(slot);
      if (o) {
        used.add(slot);
        const os = componentSpan(o, zone);
        if (os) yield { ...os, item: o, recurrenceId: t, startTime: o.getFirstPropertyValue('dtstart') as Time };
      } else yield { start: slot, end: slot + dur, item: m, recurrenceId: t, startTime: t };
    }
  }
  // Overrides for slots the series does not produce (or with no master at all).
  for (const [slot, o] of overrides) {
    if (used.has(slot)) continue;
    const os = componentSpan(o, zone);
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
export function instancesIn(vcal: Comp, type: string, r: Range, zone: FloatingZone | null = null): Instance[] {
  const walk = new RangeWalk(vcal, type, r, zone);
  while (!walk.step(Infinity));
  return walk.out;
}

/** The walk behind instancesIn, resumable so a caller can pause between slices. */
class RangeWalk {
  readonly out: Instance[] = [];
  private readonly gen: Generator<Instance>;
  private readonly hasOverrides: boolean;
  constructor(vcal: Comp, type: string, private readonly r: Range, zone: FloatingZone | null) {
    this.hasOverrides = vcal.getAllSubcomponents(type).some((c) => c.getFirstProperty('recurrence-id'));
    this.gen = occurrences(vcal, type, zone);
  }
  /** Walks up to n instances; true when the walk is over. */
  step(n: number): boolean {
    for (let k = 0; k < n; k++) {
      const next = this.gen.next();
      if (next.done) return true;
      const i = next.value;
      if (overlaps(i.start, i.end, this.r)) this.out.push(i);
      else if (!this.hasOverrides && i.recurrenceId && i.start >= this.r.end) return true;
    }
    return false;
  }
}

/** What a sliced walk (which holds nobody up) may take in all: steps, and wall time spent in its slices. */
const SLICED_STEPS = 2_000_000;
const SLICED_MS = 20_000;
/** Instances walked per slice of instancesInSliced (a few milliseconds). */
const SLICE_INSTANCES = 128;

/**
 * instancesIn for the query paths: the walk pauses (`pause`, which yields
 * to the event loop when the slice's time is up) every SLICE_INSTANCES, so
 * a long walk (a yearly event asked about the year 9000) does not hold up
 * other sessions. One budget spans the whole walk.
 */
export async function instancesInSliced(etag: string, vcal: Comp, type: string, r: Range, zone: FloatingZone | null, pause: () => Promise<void>): Promise<Instance[]> {
  if (etag && overBudget.has(etag)) throw new RecurrenceLimitError('known');
  // Sliced, so it holds nobody up: it may take more time in all than a walk in one piece.
  const b = createBudget(SLICED_STEPS, SLICED_MS);
  try {
    const walk = runWithBudget(b, () => new RangeWalk(vcal, type, r, zone));
    while (!runWithBudget(b, () => walk.step(SLICE_INSTANCES))) await pause();
    return walk.out;
  } catch (err) {
    if (err instanceof RecurrenceLimitError) noteOverBudget(etag);
    throw err;
  }
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
/** ...or the instances within this span of now (or the first instance), whichever ends first. */
const CACHED_SPAN_MS = 50 * 365.25 * 86_400_000;
/** Keyed by ETag and the floating zone's key ('' for UTC). */
const spanCache = new Map<string, Spans>();

function computeSpans(vcal: Comp, type: string, zone: FloatingZone | null): Spans {
  const out: number[] = [];
  let complete = true;
  let until = Infinity;
  let n = 0;
  let cap = Infinity;
  for (const i of occurrences(vcal, type, zone)) {
    const slot = i.recurrenceId ? toMs(i.recurrenceId, zone) : i.start;
    // A sparse rule (29 February) would otherwise be walked for thousands of years.
    if (cap === Infinity && Number.isFinite(i.start)) cap = Math.max(Date.now(), i.start) + CACHED_SPAN_MS;
    if (++n > CACHED_INSTANCES || slot > cap) {
      complete = false;
      until = slot;
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

/** Primes the cache at PUT time with the spans computed while validating (in UTC). */
export function primeSpans(etag: string, parsed: ParsedCalendar): void {
  if (parsed.spans.spans.length) remember(`${etag}|`, parsed.spans);
}

/**
 * ETags of stored objects whose expansion exceeded the budget (stored before
 * the limits existed): later queries skip them at once instead of paying the
 * whole budget again. An ETag names one content for good, so this never goes stale.
 */
const overBudget = new Set<string>();

/** Runs an expansion of one stored object under its own budget; after it once exceeded the budget, throws at once. */
export function budgeted<T>(etag: string, fn: () => T): T {
  if (etag && overBudget.has(etag)) throw new RecurrenceLimitError('known');
  try {
    return withRecurrenceBudget(fn);
  } catch (err) {
    if (err instanceof RecurrenceLimitError) noteOverBudget(etag);
    throw err;
  }
}

function noteOverBudget(etag: string): void {
  if (!etag) return;
  if (overBudget.size > 10_000) overBudget.clear();
  overBudget.add(etag);
}

/** Whether any instance of the object overlaps the range, from the cache when it can. Throws RecurrenceLimitError past the budget. */
export function objectOverlaps(etag: string, data: string, type: string, r: Range, zone: FloatingZone | null = null): boolean {
  const t = type.toLowerCase();
  const key = `${etag}|${zone?.key ?? ''}`;
  let s = spanCache.get(key);
  if (!s) s = remember(key, budgeted(etag, () => computeSpans(parseVCalendar(data), t, zone)));
  if (!s.complete && r.end > s.until) return budgeted(etag, () => instancesIn(parseVCalendar(data), t, r, zone).length > 0);
  const a = s.spans;
  for (let k = 0; k < a.length; k += 2) if (overlaps(a[k], a[k + 1], r)) return true;
  return false;
}

/** objectOverlaps for the query loops: a walk past the cached spans runs in slices (instancesInSliced). */
export async function objectOverlapsSliced(etag: string, data: string, type: string, r: Range, zone: FloatingZone | null, pause: () => Promise<void>): Promise<boolean> {
  const t = type.toLowerCase();
  const key = `${etag}|${zone?.key ?? ''}`;
  let s = spanCache.get(key);
  if (!s) s = remember(key, budgeted(etag, () => computeSpans(parseVCalendar(data), t, zone)));
  if (!s.complete && r.end > s.until) return (await instancesInSliced(etag, parseVCalendar(data), t, r, zone, pause)).length > 0;
  const a = s.spans;
  for (let k = 0; k < a.length; k += 2) if (overlaps(a[k], a[k + 1], r)) return true;
  return false;
}
