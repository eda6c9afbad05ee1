/**
 * @module node/dav/reports/free-busy
 * free-busy-query (RFC 4791 §7.10): busy periods of the calendar's opaque,
 * non-cancelled events in the range, merged, as one VFREEBUSY in UTC.
 */
import ICAL from 'ical.js';
import type { DavRepo } from '../../store/index.js';
import type { Ctx, Resource } from '../context.js';
import { DavError, pre } from '../errors.js';
import { formatUtc, instancesIn, parseUtc, parseVCalendar } from '../ical.js';
import { CALDAV, child, type XmlElement } from '../xml.js';

type Period = { start: number; end: number; type: string };

/** Busy periods over the given calendars (one collection for the REPORT; all of them for a scheduling request). */
export function busyPeriods(dav: DavRepo, colIds: number[], range: { start: number; end: number }): Period[] {
  const periods: Period[] = [];
  for (const obj of colIds.flatMap((id) => dav.objects(id, range))) {
    if (obj.component !== 'VEVENT') continue;
    const vcal = parseVCalendar(obj.data);
    for (const inst of instancesIn(vcal, 'vevent', range)) {
      const transp = String(inst.item.getFirstPropertyValue('transp') ?? 'OPAQUE').toUpperCase();
      const status = String(inst.item.getFirstPropertyValue('status') ?? '').toUpperCase();
      if (transp === 'TRANSPARENT' || status === 'CANCELLED' || inst.end <= inst.start) continue;
      periods.push({ start: Math.max(inst.start, range.start), end: Math.min(inst.end, range.end), type: status === 'TENTATIVE' ? 'BUSY-TENTATIVE' : 'BUSY' });
    }
  }
  const merged: Period[] = [];
  for (const type of ['BUSY', 'BUSY-TENTATIVE']) {
    const ps = periods.filter((p) => p.type === type).sort((a, b) => a.start - b.start);
    for (const p of ps) {
      const last = merged[merged.length - 1];
      if (last && last.type === type && p.start <= last.end) last.end = Math.max(last.end, p.end);
      else merged.push({ ...p });
    }
  }
  return merged;
}

export function freeBusyQuery(ctx: Ctx, res: Resource, root: XmlElement): Response {
  if (res.t !== 'collection' || res.kind !== 'calendar') throw new DavError(403, pre.dav('supported-report'), 'free-busy-query runs on a calendar');
  const tr = child(root, CALDAV, 'time-range');
  if (!tr || !tr.attrs['start']) throw new DavError(400, pre.cal('valid-filter'), 'free-busy-query needs a <C:time-range start=... end=...>');
  const range = { start: parseUtc(tr.attrs['start'], 0), end: parseUtc(tr.attrs['end'], 8.64e15) };
  const fb = new ICAL.Component('vfreebusy');
  fb.addPropertyWithValue('dtstamp', ICAL.Time.fromJSDate(new Date(), true));
  fb.addPropertyWithValue('dtstart', ICAL.Time.fromJSDate(new Date(range.start), true));
  fb.addPropertyWithValue('dtend', ICAL.Time.fromJSDate(new Date(Math.min(range.end, 253402300799000)), true));
  const lines = busyPeriods(ctx.lease.mailbox.dav, [res.col.id], range).map((p) => `FREEBUSY;FBTYPE=${p.type}:${formatUtc(p.start)}/${formatUtc(p.end)}`);
  const head = fb.toString().replace(/\r\nEND:VFREEBUSY$/, '');
  const body = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven//DAV//EN', head, ...lines, 'END:VFREEBUSY', 'END:VCALENDAR', ''].join('\r\n');
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/calendar; charset=utf-8' } });
}
