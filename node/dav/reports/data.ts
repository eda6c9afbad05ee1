/**
 * @module node/dav/reports/data
 * The calendar-data (RFC 4791 §9.6) and address-data (RFC 6352 §10.4)
 * properties of an object, including CalDAV's <expand>: recurring events
 * returned as one component per instance, in UTC, without rules.
 */
import ICAL from 'ical.js';
import type { CollectionKind, DavObject } from '../../store/index.js';
import { DavError } from '../errors.js';
import { instancesIn, parseUtc, parseVCalendar } from '../ical.js';
import { CALDAV, CARDDAV, XmlWriter, child, escapeXml, type XmlElement } from '../xml.js';

/** Returns the serialized data property, or undefined when (ns, local) is not the data property of this kind. */
export function dataProp(kind: CollectionKind, obj: DavObject, ns: string, local: string, request: XmlElement | null, w: XmlWriter): string | undefined {
  if (kind === 'calendar' && ns === CALDAV && local === 'calendar-data') {
    const expand = request ? child(request, CALDAV, 'expand') : undefined;
    const text = expand ? expandObject(obj.data, expand) : obj.data;
    return w.el(CALDAV, 'calendar-data', escapeXml(text));
  }
  if (kind === 'addressbook' && ns === CARDDAV && local === 'address-data') return w.el(CARDDAV, 'address-data', escapeXml(obj.data));
  return undefined;
}

function utc(t: InstanceType<typeof ICAL.Time>): InstanceType<typeof ICAL.Time> {
  return t.isDate ? t.clone() : t.convertToZone(ICAL.Timezone.utcTimezone);
}

/** RFC 4791 §9.6.5: one component per instance overlapping the range, times in UTC. */
export function expandObject(data: string, expand: XmlElement): string {
  if (expand.attrs['start'] === undefined || expand.attrs['end'] === undefined) throw new DavError(400, null, '<expand> needs both start and end');
  const range = { start: parseUtc(expand.attrs['start'], 0), end: parseUtc(expand.attrs['end'], 0) };
  const vcal = parseVCalendar(data);
  const type = vcal.getAllSubcomponents().find((c) => c.name !== 'vtimezone')?.name;
  if (type !== 'vevent') return data;
  const master = vcal.getAllSubcomponents('vevent').find((c) => !c.getFirstProperty('recurrence-id'));
  if (!master || !master.getFirstProperty('rrule') && !master.getFirstProperty('rdate')) {
    // Not recurring: the object as it is, with times converted to UTC.
    return data;
  }
  const out = new ICAL.Component('vcalendar');
  for (const p of vcal.getAllProperties()) out.addProperty(ICAL.Property.fromString(p.toICALString()));
  for (const inst of instancesIn(vcal, 'vevent', range)) {
    const c = new ICAL.Component(JSON.parse(JSON.stringify(inst.item.toJSON())));
    for (const n of ['rrule', 'rdate', 'exdate', 'dtstart', 'dtend', 'duration', 'recurrence-id']) c.removeAllProperties(n);
    const start = utc(inst.startTime);
    const endMs = inst.end;
    c.addPropertyWithValue('dtstart', start);
    const end = ICAL.Time.fromJSDate(new Date(endMs), true);
    if (start.isDate) {
      const e = ICAL.Time.fromData({ year: end.year, month: end.month, day: end.day, isDate: true });
      c.addPropertyWithValue('dtend', e);
    } else c.addPropertyWithValue('dtend', end);
    if (inst.recurrenceId) c.addPropertyWithValue('recurrence-id', utc(inst.recurrenceId));
    out.addSubcomponent(c);
  }
  return out.toString() + '\r\n';
}
