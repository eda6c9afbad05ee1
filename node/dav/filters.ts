/**
 * @module node/dav/filters
 * The query filters of calendar-query (RFC 4791 §9.7) and addressbook-query
 * (RFC 6352 §10.5): comp-filter, prop-filter, param-filter, text-match and
 * time-range, evaluated against parsed ical.js components.
 */
import ICAL from 'ical.js';
import { DavError, pre } from './errors.js';
import { clampRange, componentSpan, FOREVER, instancesInSliced, overlaps, parseUtc, toMs, type Range } from './ical.js';
import type { FloatingZone } from './zones.js';
import { CALDAV, CARDDAV, child, childrenOf, type XmlElement } from './xml.js';

type Comp = InstanceType<typeof ICAL.Component>;
type Prop = InstanceType<typeof ICAL.Property>;

const COLLATIONS = new Set(['i;ascii-casemap', 'i;unicode-casemap', 'i;octet']);

function fold(s: string, collation: string): string {
  if (collation === 'i;octet') return s;
  if (collation === 'i;ascii-casemap') return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return s.normalize('NFKC').toLowerCase();
}

/** RFC 4790 collations and RFC 6352 match types; negate-condition flips the result. */
export function textMatch(el: XmlElement, values: string[], ns: string): boolean {
  const collation = el.attrs['collation'] ?? (ns === CARDDAV ? 'i;unicode-casemap' : 'i;ascii-casemap');
  if (!COLLATIONS.has(collation))
    throw new DavError(403, (ns === CARDDAV ? pre.card : pre.cal)('supported-collation'), `collation ${collation} is not supported; use i;ascii-casemap, i;unicode-casemap or i;octet`);
  const type = el.attrs['match-type'] ?? 'contains';
  const needle = fold(el.text, collation);
  const test = (v: string): boolean => {
    const h = fold(v, collation);
    switch (type) {
      case 'equals':
        return h === needle;
      case 'starts-with':
        return h.startsWith(needle);
      case 'ends-with':
        return h.endsWith(needle);
      case 'contains':
        return h.includes(needle);
      default:
        throw new DavError(400, null, `match-type "${type}" is unknown; use equals, contains, starts-with or ends-with`);
    }
  };
  const negate = el.attrs['negate-condition'] === 'yes';
  // A negated match over several values is true when no value matches.
  const any = values.some(test);
  return negate ? !any : any;
}

function propText(p: Prop): string[] {
  return p.getValues().map((v) => (Array.isArray(v) ? v.flat().join(';') : typeof v === 'object' && v !== null ? v.toString() : String(v)));
}

function paramMatches(f: XmlElement, p: Prop, ns: string): boolean {
  const name = (f.attrs['name'] ?? '').toLowerCase();
  const raw = p.getParameter(name) as string | string[] | undefined;
  if (child(f, ns, 'is-not-defined')) return raw === undefined;
  if (raw === undefined) return false;
  const tm = child(f, ns, 'text-match');
  return tm ? textMatch(tm, Array.isArray(raw) ? raw : [raw], ns) : true;
}

/** RFC 4791 §9.9; an open end is clamped to the documented horizon (ical.ts OPEN_RANGE_YEARS). */
function timeRangeOf(el: XmlElement): Range {
  const r = { start: parseUtc(el.attrs['start'], -FOREVER), end: parseUtc(el.attrs['end'], FOREVER) };
  if (el.attrs['start'] === undefined && el.attrs['end'] === undefined)
    throw new DavError(400, pre.cal('valid-filter'), 'time-range needs a start or an end attribute');
  return clampRange(r);
}

/**
 * What a filter is evaluated against: the whole calendar object, the zone
 * for floating times, and how to pause between slices of a long walk (the
 * object's ETag names it to the recurrence budget).
 */
interface Scope {
  vcal: Comp;
  zone: FloatingZone | null;
  etag: string;
  pause: () => Promise<void>;
}

function calPropMatches(f: XmlElement, c: Comp, zone: FloatingZone | null): boolean {
  const name = (f.attrs['name'] ?? '').toLowerCase();
  const props = c.getAllProperties(name);
  if (child(f, CALDAV, 'is-not-defined')) return props.length === 0;
  if (props.length === 0) return false;
  return props.some((p) => {
    const tr = child(f, CALDAV, 'time-range');
    if (tr) {
      const v = p.getFirstValue() as InstanceType<typeof ICAL.Time> | null;
      if (!v || typeof v !== 'object' || !('toUnixTime' in v)) return false;
      if (!overlaps(toMs(v, zone), toMs(v, zone), timeRangeOf(tr))) return false;
    }
    const tm = child(f, CALDAV, 'text-match');
    if (tm && !textMatch(tm, propText(p), CALDAV)) return false;
    return childrenOf(f, CALDAV, 'param-filter').every((pf) => paramMatches(pf, p, CALDAV));
  });
}

/** Does one comp-filter match within `parent` (RFC 4791 §9.7.1)? */
async function compFilterMatches(f: XmlElement, parent: Comp, isRoot: boolean, scope: Scope): Promise<boolean> {
  const name = (f.attrs['name'] ?? '').toLowerCase();
  const candidates = isRoot ? (parent.name === name ? [parent] : []) : parent.getAllSubcomponents(name);
  if (child(f, CALDAV, 'is-not-defined')) return candidates.length === 0;
  if (candidates.length === 0) return false;
  const tr = child(f, CALDAV, 'time-range');
  let inRange: Set<Comp> | null = null;
  if (tr) {
    if (isRoot) throw new DavError(400, pre.cal('valid-filter'), 'time-range cannot apply to VCALENDAR; put it inside a VEVENT or VTODO comp-filter');
    const r = timeRangeOf(tr);
    inRange = new Set();
    if (name === 'valarm') {
      for (const a of candidates) if (await alarmInRange(a, parent, r, scope)) inRange.add(a);
    } else for (const i of await instancesInSliced(scope.etag, parent, name, r, scope.zone, scope.pause)) inRange.add(i.item);
  }
  for (const c of candidates) {
    if (inRange && !inRange.has(c)) continue;
    if (!childrenOf(f, CALDAV, 'prop-filter').every((pf) => calPropMatches(pf, c, scope.zone))) continue;
    let all = true;
    for (const cf of childrenOf(f, CALDAV, 'comp-filter')) if (!(all = await compFilterMatches(cf, c, false, scope))) break;
    if (all) return true;
  }
  return false;
}

/** REPEAT is a count of repetitions; more than this many is treated as this many (each costs nothing but arithmetic). */
const MAX_REPEAT = 10_000;

/** Does any trigger t0, t0 + step, ..., t0 + repeat·step fall in [r.start, r.end)? */
function triggersHit(t0: number, step: number, repeat: number, r: Range): boolean {
  if (step <= 0 || repeat === 0) return overlaps(t0, t0, r);
  const k = Math.max(0, Math.ceil((r.start - t0) / step));
  return k <= repeat && overlaps(t0 + k * step, t0 + k * step, r);
}

/**
 * VALARM time-range (RFC 4791 §9.9): an alarm overlaps when one of its
 * trigger times does, counting every repetition (REPEAT with DURATION,
 * RFC 5545 §3.6.6) and, for a relative trigger on a recurring parent, the
 * trigger of every instance (RFC 5545 §3.8.6.3). A trigger related to a
 * start the task does not have falls back to its DUE, as RFC 4791's own
 * example (§7.8.5, Appendix B) expects.
 */
async function alarmInRange(alarm: Comp, parent: Comp, r: Range, scope: Scope): Promise<boolean> {
  const trig = alarm.getFirstProperty('trigger');
  if (!trig) return false;
  const v = trig.getFirstValue() as unknown;
  const dur = alarm.getFirstPropertyValue('duration') as InstanceType<typeof ICAL.Duration> | null;
  const step = dur instanceof ICAL.Duration ? Math.abs(dur.toSeconds()) * 1000 : 0;
  const repeat = step > 0 ? Math.min(MAX_REPEAT, Math.max(0, Number(alarm.getFirstPropertyValue('repeat') ?? 0) || 0)) : 0;
  if (v instanceof ICAL.Time) return triggersHit(toMs(v, scope.zone), step, repeat, r);
  if (!(v instanceof ICAL.Duration)) return false;
  const offset = v.toSeconds() * 1000;
  const related = String(trig.getParameter('related') ?? 'START').toUpperCase() === 'END' ? 'end' : 'start';
  const recurring = !parent.getFirstProperty('recurrence-id') && (parent.getFirstProperty('rrule') || parent.getFirstProperty('rdate'));
  if (!recurring) {
    const span = componentSpan(parent, scope.zone);
    return span !== null && Number.isFinite(span[related]) && triggersHit(span[related] + offset, step, repeat, r);
  }
  // Only instances whose base (start or end) lies in this window can trigger inside r.
  const window = { start: r.start - offset - repeat * step, end: r.end - offset + 1 };
  const instances = await instancesInSliced(scope.etag, scope.vcal, parent.name, window, scope.zone, scope.pause);
  return instances.some((i) => i.item === parent && triggersHit(i[related] + offset, step, repeat, r));
}

/**
 * The calendar-query filter: exactly one comp-filter for VCALENDAR; floating
 * times read in `zone` (RFC 4791 §9.9). Recurrences are walked in slices
 * (`pause` between them), each object under its own budget.
 */
export async function calendarFilterMatches(filter: XmlElement, vcal: Comp, zone: FloatingZone | null, etag: string, pause: () => Promise<void>): Promise<boolean> {
  const top = childrenOf(filter, CALDAV, 'comp-filter');
  if (top.length !== 1 || (top[0].attrs['name'] ?? '').toUpperCase() !== 'VCALENDAR')
    throw new DavError(403, pre.cal('valid-filter'), 'a calendar-query filter holds one comp-filter named VCALENDAR');
  return compFilterMatches(top[0], vcal, true, { vcal, zone, etag, pause });
}

/**
 * The filter clients send most (VCALENDAR > one component > time-range,
 * nothing else), which the span cache answers without parsing; null for
 * any other shape.
 */
export function simpleTimeRange(filter: XmlElement): { component: string; range: Range } | null {
  const top = childrenOf(filter, CALDAV, 'comp-filter');
  if (top.length !== 1 || filter.children.length !== 1 || (top[0].attrs['name'] ?? '').toUpperCase() !== 'VCALENDAR' || top[0].children.length !== 1) return null;
  const inner = top[0].children[0];
  if (inner.ns !== CALDAV || inner.local !== 'comp-filter' || inner.children.length !== 1) return null;
  const tr = inner.children[0];
  if (tr.ns !== CALDAV || tr.local !== 'time-range') return null;
  const component = (inner.attrs['name'] ?? '').toUpperCase();
  if (!['VEVENT', 'VTODO', 'VJOURNAL'].includes(component)) return null;
  return { component, range: timeRangeOf(tr) };
}

/**
 * A filter that asks only for a kind of object (VCALENDAR > VEVENT, VTODO
 * or VJOURNAL, with no condition inside): the component the store indexed
 * answers it without parsing. Null for any other shape.
 */
export function componentOnly(filter: XmlElement): string | null {
  const top = childrenOf(filter, CALDAV, 'comp-filter');
  if (top.length !== 1 || filter.children.length !== 1 || (top[0].attrs['name'] ?? '').toUpperCase() !== 'VCALENDAR' || top[0].children.length !== 1) return null;
  const inner = top[0].children[0];
  if (inner.ns !== CALDAV || inner.local !== 'comp-filter' || inner.children.length !== 0) return null;
  const component = (inner.attrs['name'] ?? '').toUpperCase();
  return ['VEVENT', 'VTODO', 'VJOURNAL'].includes(component) ? component : null;
}

/** The widest time range a filter asks for, for the store's range prefilter; null = any time. */
export function filterRange(filter: XmlElement): { range: Range | null; component: string | null } {
  const top = child(filter, CALDAV, 'comp-filter');
  const inner = top ? childrenOf(top, CALDAV, 'comp-filter') : [];
  if (inner.length !== 1 || child(inner[0], CALDAV, 'is-not-defined')) return { range: null, component: null };
  const tr = child(inner[0], CALDAV, 'time-range');
  return { range: tr ? timeRangeOf(tr) : null, component: (inner[0].attrs['name'] ?? '').toUpperCase() };
}

// ---------------------------------------------------------------- CardDAV

function cardPropMatches(f: XmlElement, card: Comp): boolean {
  const name = (f.attrs['name'] ?? '').toLowerCase();
  const props = card.getAllProperties(name);
  if (child(f, CARDDAV, 'is-not-defined')) return props.length === 0;
  if (props.length === 0) return false;
  const tests = [...childrenOf(f, CARDDAV, 'text-match'), ...childrenOf(f, CARDDAV, 'param-filter')];
  if (tests.length === 0) return true;
  const allof = f.attrs['test'] === 'allof';
  return props.some((p) => {
    const r = (t: XmlElement) => (t.local === 'text-match' ? textMatch(t, propText(p), CARDDAV) : paramMatches(t, p, CARDDAV));
    return allof ? tests.every(r) : tests.some(r);
  });
}

export function addressFilterMatches(filter: XmlElement, card: Comp): boolean {
  const pfs = childrenOf(filter, CARDDAV, 'prop-filter');
  if (pfs.length === 0) return true;
  return filter.attrs['test'] === 'allof' ? pfs.every((f) => cardPropMatches(f, card)) : pfs.some((f) => cardPropMatches(f, card));
}
