/**
 * @module node/dav/reports/data
 * The calendar-data (RFC 4791 §9.6) and address-data (RFC 6352 §10.4)
 * properties of an object: the object as stored, or shaped by the request's
 * <expand> (§9.6.5: one component per instance in the range, in UTC, with
 * RECURRENCE-ID and without rules or VTIMEZONE), <limit-recurrence-set>
 * (§9.6.6: the master and only the overrides that matter to the range) and
 * <comp>/<prop> (§9.6.1: only the named components and properties).
 */
import ICAL from 'ical.js';
import type { CollectionKind, DavObject } from '../../store/index.js';
import { DavError } from '../errors.js';
import { budgeted, instancesIn, instancesInSliced, overlaps, parseUtc, parseVCalendar, toMs, type Instance, type Range } from '../ical.js';
import { RecurrenceLimitError } from '../recur-guard.js';
import { CALDAV, CARDDAV, XmlWriter, child, childrenOf, escapeXml, type XmlElement } from '../xml.js';
import { isFloating, type FloatingZone } from '../zones.js';

type Comp = InstanceType<typeof ICAL.Component>;
type Time = InstanceType<typeof ICAL.Time>;

/**
 * Returns the serialized data property, or undefined when (ns, local) is not
 * the data property of this kind. `prepared` is calendar-data already
 * computed in slices (prepareCalendarData).
 */
export function dataProp(kind: CollectionKind, obj: DavObject, ns: string, local: string, request: XmlElement | null, w: XmlWriter, zone: FloatingZone | null = null, prepared?: string): string | undefined {
  if (kind === 'calendar' && ns === CALDAV && local === 'calendar-data') return w.el(CALDAV, 'calendar-data', escapeXml(prepared ?? calendarData(obj.data, request, zone, obj.etag)));
  if (kind === 'addressbook' && ns === CARDDAV && local === 'address-data') return w.el(CARDDAV, 'address-data', escapeXml(obj.data));
  return undefined;
}

/** The calendar-data text for one object under the request element's options. */
export function calendarData(data: string, request: XmlElement | null, zone: FloatingZone | null, etag = ''): string {
  if (!request || request.children.length === 0) return data;
  const expand = child(request, CALDAV, 'expand');
  const limit = child(request, CALDAV, 'limit-recurrence-set');
  const comp = child(request, CALDAV, 'comp');
  if (!expand && !limit && !comp) return data;
  const expandRange = expand ? rangeOf(expand) : null;
  const limitRange = limit ? rangeOf(limit) : null;
  try {
    return budgeted(etag, () => {
      let vcal = parseVCalendar(data);
      if (expandRange) vcal = expandCalendar(vcal, expandRange, zone);
      else if (limitRange) vcal = limitRecurrenceSet(vcal, limitRange, zone);
      if (comp) vcal = prune(vcal, comp);
      return vcal.toString() + '\r\n';
    });
  } catch (err) {
    // An object stored before the limits existed: the client gets it whole rather than nothing.
    if (err instanceof RecurrenceLimitError) return data;
    throw err;
  }
}

/**
 * calendar-data with <expand>, computed before the response is written: the
 * expansion walks in slices (`pause` between them) so that a far range does
 * not hold other sessions up. Null when the request has no <expand> (the
 * synchronous path is cheap then).
 */
export async function expandedCalendarData(data: string, request: XmlElement | null, zone: FloatingZone | null, etag: string, pause: () => Promise<void>): Promise<string | null> {
  const expand = request ? child(request, CALDAV, 'expand') : undefined;
  if (!request || !expand) return null;
  const range = rangeOf(expand);
  const comp = child(request, CALDAV, 'comp');
  try {
    const vcal = parseVCalendar(data);
    const type = vcal.getAllSubcomponents().find((c) => c.name !== 'vtimezone')?.name;
    const instances = type ? await instancesInSliced(etag, vcal, type, range, zone, pause) : [];
    return budgeted(etag, () => {
      let out = expandInstances(vcal, instances, zone);
      if (comp) out = prune(out, comp);
      return out.toString() + '\r\n';
    });
  } catch (err) {
    if (err instanceof RecurrenceLimitError) return data;
    throw err;
  }
}

function rangeOf(el: XmlElement): Range {
  if (el.attrs['start'] === undefined || el.attrs['end'] === undefined)
    throw new DavError(400, null, `<${el.local}> needs both start and end (RFC 4791 §9.6.5)`);
  return { start: parseUtc(el.attrs['start'], 0), end: parseUtc(el.attrs['end'], 0) };
}

const UTC = (): InstanceType<typeof ICAL.Timezone> => ICAL.Timezone.utcTimezone;

/** A DATE-TIME in UTC: zoned values converted, floating ones read in `zone` (left floating without one); DATEs stay DATEs. */
function inUtc(t: Time, zone: FloatingZone | null): Time {
  if (t.isDate) return t.clone();
  if (isFloating(t)) {
    if (!zone) return t.clone();
    return ICAL.Time.fromJSDate(new Date(toMs(t, zone)), true);
  }
  return t.convertToZone(UTC());
}

function copy(c: Comp): Comp {
  return new ICAL.Component(JSON.parse(JSON.stringify(c.toJSON())));
}

/**
 * Every date-time property of `dst`, a copy of `src`, rewritten in UTC with
 * TZID dropped. Values are read from `src`, which still sits in the
 * VCALENDAR that holds its VTIMEZONEs (a detached copy cannot resolve them).
 */
function propertiesToUtc(src: Comp, dst: Comp, zone: FloatingZone | null): void {
  const from = src.getAllProperties();
  const to = dst.getAllProperties();
  for (let i = 0; i < from.length && i < to.length; i++) {
    const vals = from[i].getValues();
    if (!vals.length || !vals.every((v) => v instanceof ICAL.Time)) continue;
    const conv = (vals as Time[]).map((v) => inUtc(v, zone));
    to[i].removeParameter('tzid');
    if (conv.length === 1) to[i].setValue(conv[0]);
    else to[i].setValues(conv);
  }
  const subFrom = src.getAllSubcomponents();
  const subTo = dst.getAllSubcomponents();
  for (let i = 0; i < subFrom.length && i < subTo.length; i++) propertiesToUtc(subFrom[i], subTo[i], zone);
}

/** The calendar's own properties (VERSION, PRODID, CALSCALE), without components. */
function shell(vcal: Comp): Comp {
  const out = new ICAL.Component('vcalendar');
  for (const p of vcal.getAllProperties()) out.addProperty(ICAL.Property.fromString(p.toICALString()));
  return out;
}

/** RFC 4791 §9.6.5. Instances come from the same expansion as time-range matching, overrides included. */
function expandCalendar(vcal: Comp, range: Range, zone: FloatingZone | null): Comp {
  const type = vcal.getAllSubcomponents().find((c) => c.name !== 'vtimezone')?.name;
  return expandInstances(vcal, type ? instancesIn(vcal, type, range, zone) : [], zone);
}

/** One component per instance, in UTC, without rules; the calendar's own properties kept, its VTIMEZONEs not. */
function expandInstances(vcal: Comp, instances: Instance[], zone: FloatingZone | null): Comp {
  const out = shell(vcal);
  for (const inst of instances) {
    const c = copy(inst.item);
    propertiesToUtc(inst.item, c, zone);
    for (const n of ['rrule', 'rdate', 'exdate', 'exrule']) c.removeAllProperties(n);
    const isMasterSlot = inst.recurrenceId !== null && !inst.item.getFirstProperty('recurrence-id');
    if (isMasterSlot) {
      // An ordinary slot of the series: the master's properties at this slot's time.
      const start = inUtc(inst.startTime, zone);
      c.updatePropertyWithValue('dtstart', start);
      // The end moves with the slot: DTEND for events, DUE for tasks (RFC 5545 §3.8.2.3).
      for (const name of ['dtend', 'due']) {
        const was = inst.item.getFirstPropertyValue(name) as Time | null;
        if (!was || !c.getFirstProperty(name)) continue;
        const end = start.isDate ? start.clone() : ICAL.Time.fromJSDate(new Date(inst.end), true);
        if (start.isDate) end.addDuration((was as Time).subtractDate(inst.item.getFirstPropertyValue('dtstart') as Time));
        c.updatePropertyWithValue(name, end);
      }
    }
    if (inst.recurrenceId) {
      c.removeAllProperties('recurrence-id');
      c.addPropertyWithValue('recurrence-id', inUtc(inst.recurrenceId, zone));
    }
    out.addSubcomponent(c);
  }
  return out;
}

/**
 * RFC 4791 §9.6.6: the master as it is, and only those overrides whose
 * instance (or the slot it replaces) overlaps the range; VTIMEZONEs stay.
 */
function limitRecurrenceSet(vcal: Comp, range: Range, zone: FloatingZone | null): Comp {
  const out = shell(vcal);
  for (const c of vcal.getAllSubcomponents()) {
    const rid = c.getFirstPropertyValue('recurrence-id') as Time | null;
    if (rid) {
      const ev = c.getFirstProperty('dtstart') ? new ICAL.Event(c) : null;
      const slot = toMs(rid, zone);
      const moved = ev ? overlaps(toMs(ev.startDate, zone), toMs(ev.endDate, zone), range) : false;
      if (!moved && !overlaps(slot, slot, range) && !(slot < range.start && c.getFirstPropertyValue('range') === 'THISANDFUTURE')) continue;
    }
    out.addSubcomponent(copy(c));
  }
  return out;
}

/**
 * RFC 4791 §9.6.1: <comp name> with <allprop/> or <prop name [novalue]>, and
 * <allcomp/> or nested <comp>. A <comp> naming no property returns all of
 * them, and one naming no component all of its components, as the RFC's own
 * examples do (§7.8.1 asks for <C:comp name="VTIMEZONE"/> and gets the whole
 * zone; §7.8.3 asks for <C:comp name="VEVENT"/> and gets whole events).
 */
function prune(c: Comp, spec: XmlElement): Comp {
  const out = new ICAL.Component(c.name);
  const props = childrenOf(spec, CALDAV, 'prop');
  if (child(spec, CALDAV, 'allprop') || props.length === 0) {
    for (const p of c.getAllProperties()) out.addProperty(ICAL.Property.fromString(p.toICALString()));
  } else {
    for (const want of props) {
      const name = (want.attrs['name'] ?? '').toLowerCase();
      for (const p of c.getAllProperties(name)) {
        const q = ICAL.Property.fromString(p.toICALString());
        if (want.attrs['novalue'] === 'yes') q.setValue('');
        out.addProperty(q);
      }
    }
  }
  const wanted = childrenOf(spec, CALDAV, 'comp');
  for (const s of c.getAllSubcomponents()) {
    if (child(spec, CALDAV, 'allcomp') || wanted.length === 0) out.addSubcomponent(copy(s));
    else {
      const w = wanted.find((x) => (x.attrs['name'] ?? '').toLowerCase() === s.name);
      if (w) out.addSubcomponent(prune(s, w));
    }
  }
  return out;
}
