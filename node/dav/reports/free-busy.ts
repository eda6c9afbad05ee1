/**
 * @module node/dav/reports/free-busy
 * free-busy-query (RFC 4791 §7.10): busy periods of the calendar's opaque,
 * non-cancelled events in the range, merged, as one VFREEBUSY in UTC.
 * Floating and all-day events count in the calendar's calendar-timezone
 * (§9.9); an open end is clamped to the horizon (ical.ts).
 */
import ICAL from 'ical.js';
import type { DavObject, DavRepo } from '../../store/index.js';
import type { Ctx, Resource } from '../context.js';
import { DavError, pre } from '../errors.js';
import { budgeted, clampRange, FOREVER, formatUtc, instancesIn, instancesInSliced, parseUtc, parseVCalendar, type Instance, type Range } from '../ical.js';
import { RecurrenceLimitError } from '../recur-guard.js';
import { zoneFromText, type FloatingZone } from '../zones.js';
import { Slicer } from './slices.js';

/** Floating times can sit up to 14 h either side of UTC, and the index stores them as UTC. */
const FLOATING_SLACK_MS = 14 * 3_600_000;
import { CALDAV, child, type XmlElement } from '../xml.js';

type Period = { start: number; end: number; type: string };

/** Busy periods of one object's instances (opaque, not cancelled), cut to the range. */
function periodsOf(instances: Instance[], range: Range, out: Period[]): void {
  for (const inst of instances) {
    const transp = String(inst.item.getFirstPropertyValue('transp') ?? 'OPAQUE').toUpperCase();
    const status = String(inst.item.getFirstPropertyValue('status') ?? '').toUpperCase();
    if (transp === 'TRANSPARENT' || status === 'CANCELLED' || inst.end <= inst.start) continue;
    out.push({ start: Math.max(inst.start, range.start), end: Math.min(inst.end, range.end), type: status === 'TENTATIVE' ? 'BUSY-TENTATIVE' : 'BUSY' });
  }
}

/**
 * The events to look at, each with its calendar's zone for floating times
 * (RFC 4791 §9.9, §7.10). The index stores floating times as UTC, so the
 * range is widened by the largest offset before asking it.
 */
function candidates(dav: DavRepo, colIds: number[], range: Range): { obj: DavObject; zone: FloatingZone | null }[] {
  const zones = new Map(dav.collections('calendar').map((c) => [c.id, zoneFromText(c.timezone)]));
  const wide = { start: range.start - FLOATING_SLACK_MS, end: range.end + FLOATING_SLACK_MS };
  return colIds.flatMap((id) => dav.objects(id, wide).filter((o) => o.component === 'VEVENT').map((obj) => ({ obj, zone: zones.get(id) ?? null })));
}

/**
 * Busy periods over the given calendars (all of them for a scheduling
 * request). An object whose recurrence exceeds the budget (stored before
 * the limits existed) contributes nothing rather than stall the node.
 */
export function busyPeriods(dav: DavRepo, colIds: number[], range: Range): Period[] {
  const r = clampRange(range);
  const out: Period[] = [];
  for (const { obj, zone } of candidates(dav, colIds, r)) {
    try {
      periodsOf(budgeted(obj.etag, () => instancesIn(parseVCalendar(obj.data), 'vevent', r, zone)), r, out);
    } catch (err) {
      if (!(err instanceof RecurrenceLimitError)) throw err;
    }
  }
  return merge(out);
}

/** The same for the REPORT, walking in slices that let other sessions run in between. */
export async function busyPeriodsSliced(dav: DavRepo, colIds: number[], range: Range): Promise<Period[]> {
  const r = clampRange(range);
  const out: Period[] = [];
  const slicer = new Slicer();
  const pause = () => slicer.tick();
  for (const { obj, zone } of candidates(dav, colIds, r)) {
    await pause();
    try {
      periodsOf(await instancesInSliced(obj.etag, parseVCalendar(obj.data), 'vevent', r, zone, pause), r, out);
    } catch (err) {
      if (!(err instanceof RecurrenceLimitError)) throw err;
    }
  }
  return merge(out);
}

function merge(periods: Period[]): Period[] {
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

export async function freeBusyQuery(ctx: Ctx, res: Resource, root: XmlElement): Promise<Response> {
  if (res.t !== 'collection' || res.kind !== 'calendar') throw new DavError(403, pre.dav('supported-report'), 'free-busy-query runs on a calendar');
  const tr = child(root, CALDAV, 'time-range');
  if (!tr || !tr.attrs['start']) throw new DavError(400, pre.cal('valid-filter'), 'free-busy-query needs a <C:time-range start=... end=...>');
  const range = clampRange({ start: parseUtc(tr.attrs['start'], 0), end: parseUtc(tr.attrs['end'], FOREVER) });
  const fb = new ICAL.Component('vfreebusy');
  fb.addPropertyWithValue('dtstamp', ICAL.Time.fromJSDate(new Date(), true));
  fb.addPropertyWithValue('dtstart', ICAL.Time.fromJSDate(new Date(range.start), true));
  fb.addPropertyWithValue('dtend', ICAL.Time.fromJSDate(new Date(Math.min(range.end, 253402300799000)), true));
  const lines = (await busyPeriodsSliced(ctx.lease.mailbox.dav, [res.col.id], range)).map((p) => `FREEBUSY;FBTYPE=${p.type}:${formatUtc(p.start)}/${formatUtc(p.end)}`);
  const head = fb.toString().replace(/\r\nEND:VFREEBUSY$/, '');
  const body = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven//DAV//EN', head, ...lines, 'END:VFREEBUSY', 'END:VCALENDAR', ''].join('\r\n');
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/calendar; charset=utf-8' } });
}
