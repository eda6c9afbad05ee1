/**
 * @module node/dav/filter-check
 * The shape of a query filter, checked before anything is evaluated: the
 * element grammar of RFC 4791 §9.7 (calendar-query) and RFC 6352 §10.5
 * (addressbook-query). A filter that breaks it is refused with 400 and the
 * valid-filter precondition, instead of quietly matching nothing (an empty
 * 207 tells a client "no events", which is a lie). Elements in namespaces
 * other than the protocol's own are ignored (RFC 4918 §17).
 */
import { DavError, pre } from './errors.js';
import { parseUtc } from './ical.js';
import { CALDAV, CARDDAV, type XmlElement } from './xml.js';

/** iCalendar and vCard names: iana-token or x-name (RFC 5545 §3.1, RFC 6350 §3.3). */
const NAME = /^[A-Za-z0-9-]+$/;

/** RFC 4791 §9.9: the components a time-range can apply to. */
const TIMED = new Set(['VEVENT', 'VTODO', 'VJOURNAL', 'VFREEBUSY', 'VALARM']);

const MATCH_TYPES = new Set(['equals', 'contains', 'starts-with', 'ends-with']);

function invalid(ns: string, why: string): DavError {
  return new DavError(400, (ns === CARDDAV ? pre.card : pre.cal)('valid-filter'), `invalid filter: ${why}`);
}

/** The element's children in the protocol's namespace, any other element of that namespace refused. */
function own(el: XmlElement, ns: string, allowed: string[]): XmlElement[] {
  const kids = el.children.filter((c) => c.ns === ns);
  for (const k of kids) if (!allowed.includes(k.local)) throw invalid(ns, `<${k.local}> is not allowed inside <${el.local}>`);
  return kids;
}

function nameOf(el: XmlElement, ns: string): string {
  const name = el.attrs['name'];
  if (name === undefined || !NAME.test(name)) throw invalid(ns, `<${el.local}> needs a name attribute holding a component, property or parameter name`);
  return name.toUpperCase();
}

/** is-not-defined stands alone (RFC 4791 §9.7.1-9.7.3, RFC 6352 §10.5.1-10.5.2). */
function alone(kids: XmlElement[], ns: string, where: string): boolean {
  const notDefined = kids.some((k) => k.local === 'is-not-defined');
  if (notDefined && kids.length > 1) throw invalid(ns, `<is-not-defined> in <${where}> cannot be combined with other tests`);
  return notDefined;
}

function atMostOne(kids: XmlElement[], ns: string, locals: string[], where: string): void {
  if (kids.filter((k) => locals.includes(k.local)).length > 1) throw invalid(ns, `<${where}> holds at most one ${locals.map((l) => `<${l}>`).join(' or ')}`);
}

function textMatch(el: XmlElement, ns: string): void {
  if (el.children.some((c) => c.ns === ns)) throw invalid(ns, '<text-match> holds text only');
  const neg = el.attrs['negate-condition'];
  if (neg !== undefined && neg !== 'yes' && neg !== 'no') throw invalid(ns, 'negate-condition is "yes" or "no"');
  const mt = el.attrs['match-type'];
  if (ns === CARDDAV && mt !== undefined && !MATCH_TYPES.has(mt)) throw invalid(ns, 'match-type is equals, contains, starts-with or ends-with');
}

function timeRange(el: XmlElement): void {
  if (el.attrs['start'] === undefined && el.attrs['end'] === undefined) throw invalid(CALDAV, '<time-range> needs a start or an end');
  // Throws valid-filter for anything but a UTC date-time.
  parseUtc(el.attrs['start'], 0);
  parseUtc(el.attrs['end'], 0);
}

function paramFilter(el: XmlElement, ns: string): void {
  nameOf(el, ns);
  const kids = own(el, ns, ['is-not-defined', 'text-match']);
  if (alone(kids, ns, 'param-filter')) return;
  atMostOne(kids, ns, ['text-match'], 'param-filter');
  for (const k of kids) textMatch(k, ns);
}

/** RFC 4791 §9.7.2: (is-not-defined | ((time-range | text-match)?, param-filter*)). */
function calPropFilter(el: XmlElement): void {
  nameOf(el, CALDAV);
  const kids = own(el, CALDAV, ['is-not-defined', 'time-range', 'text-match', 'param-filter']);
  if (alone(kids, CALDAV, 'prop-filter')) return;
  atMostOne(kids, CALDAV, ['time-range', 'text-match'], 'prop-filter');
  for (const k of kids) {
    if (k.local === 'time-range') timeRange(k);
    else if (k.local === 'text-match') textMatch(k, CALDAV);
    else paramFilter(k, CALDAV);
  }
}

/** RFC 4791 §9.7.1: (is-not-defined | (time-range?, prop-filter*, comp-filter*)). */
function compFilter(el: XmlElement, top: boolean): void {
  const name = nameOf(el, CALDAV);
  if (top !== (name === 'VCALENDAR')) throw invalid(CALDAV, top ? 'the filter holds one comp-filter named VCALENDAR' : 'VCALENDAR can only be the outermost comp-filter');
  const kids = own(el, CALDAV, ['is-not-defined', 'time-range', 'prop-filter', 'comp-filter']);
  if (alone(kids, CALDAV, 'comp-filter')) return;
  atMostOne(kids, CALDAV, ['time-range'], 'comp-filter');
  for (const k of kids) {
    if (k.local === 'time-range') {
      if (!TIMED.has(name)) throw invalid(CALDAV, `a time-range applies to VEVENT, VTODO, VJOURNAL, VFREEBUSY or VALARM, not ${name}`);
      timeRange(k);
    } else if (k.local === 'prop-filter') calPropFilter(k);
    else compFilter(k, false);
  }
}

/** RFC 4791 §9.7: exactly one comp-filter, for VCALENDAR. */
export function checkCalendarFilter(filter: XmlElement): void {
  const kids = own(filter, CALDAV, ['comp-filter']);
  if (kids.length !== 1) throw invalid(CALDAV, 'the filter holds exactly one comp-filter (named VCALENDAR)');
  compFilter(kids[0], true);
}

const TESTS = new Set(['anyof', 'allof']);

/** RFC 6352 §10.5: prop-filter* with anyof/allof; each (is-not-defined | (text-match*, param-filter*)). */
export function checkAddressFilter(filter: XmlElement): void {
  const test = (el: XmlElement) => {
    const t = el.attrs['test'];
    if (t !== undefined && !TESTS.has(t)) throw invalid(CARDDAV, `test is "anyof" or "allof", not "${t}"`);
  };
  test(filter);
  for (const pf of own(filter, CARDDAV, ['prop-filter'])) {
    test(pf);
    nameOf(pf, CARDDAV);
    const kids = own(pf, CARDDAV, ['is-not-defined', 'text-match', 'param-filter']);
    if (alone(kids, CARDDAV, 'prop-filter')) continue;
    for (const k of kids) {
      if (k.local === 'text-match') textMatch(k, CARDDAV);
      else paramFilter(k, CARDDAV);
    }
  }
}
