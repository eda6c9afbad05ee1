/**
 * @module node/dav/reports/calendar-query
 * calendar-query (RFC 4791 §7.8): the store's time-span index narrows the
 * candidates, then each candidate is parsed and the filter evaluated with
 * recurrences expanded. Floating times and all-day dates are read in the
 * query's CALDAV:timezone, else the calendar's calendar-timezone (§9.9).
 * Each object's expansion has its own budget; one that exceeds it (stored
 * before the limits existed) is left out and logged, and the loop yields to
 * other sessions between slices.
 */
import type { Ctx, Resource } from '../context.js';
import { DavError, pre } from '../errors.js';
import { checkCalendarFilter } from '../filter-check.js';
import { calendarFilterMatches, componentOnly, filterRange, simpleTimeRange } from '../filters.js';
import { objectOverlapsSliced, parseVCalendar } from '../ical.js';
import { RecurrenceLimitError } from '../recur-guard.js';
import { streamMultistatus } from '../respond.js';
import { CALDAV, XmlWriter, child, type XmlElement } from '../xml.js';
import { zoneFromText, type FloatingZone } from '../zones.js';
import type { DavObject } from '../../store/index.js';
import { cachedResponse, cacheable, claimPrefixes, objectResponse, prepareData, reportNamespaces, reportProps } from './common.js';
import { Slicer } from './slices.js';

/** Floating times can sit up to 14 h either side of UTC, and the index stores them as UTC. */
const FLOATING_SLACK_MS = 14 * 3_600_000;

/** RFC 4791 §9.8 / §5.2.2: the zone for floating values in this query. */
export function queryZone(root: XmlElement | null, res: Resource): FloatingZone | null {
  const tz = root ? child(root, CALDAV, 'timezone') : undefined;
  if (tz) return zoneFromText(tz.text);
  return res.t === 'collection' || res.t === 'object' ? zoneFromText(res.col.timezone) : null;
}

export async function calendarQuery(ctx: Ctx, res: Resource, root: XmlElement): Promise<Response> {
  if ((res.t !== 'collection' && res.t !== 'object') || res.kind !== 'calendar') throw new DavError(403, pre.dav('supported-report'), 'calendar-query runs on a calendar or a calendar object');
  const filter = child(root, CALDAV, 'filter');
  if (!filter) throw new DavError(400, pre.cal('valid-filter'), 'calendar-query needs a <C:filter>');
  checkCalendarFilter(filter);
  const zone = queryZone(root, res);
  const props = reportProps(root, zone);
  const { range, component } = filterRange(filter);
  const dav = ctx.lease.mailbox.dav;
  const wide = range ? { start: range.start - FLOATING_SLACK_MS, end: range.end + FLOATING_SLACK_MS } : undefined;
  const simple = simpleTimeRange(filter);
  const kindOnly = componentOnly(filter);
  // Every object of one kind, with responses the mailbox has rendered before: those need no data,
  // so the rows are read without it and the data only of the rest. Otherwise the rows whole.
  const hits = new Map<string, string>();
  let candidates: DavObject[];
  let order: { name: string }[];
  if (res.t === 'collection' && kindOnly && !wide && cacheable(ctx, props)) {
    const heads = dav.objectHeads(res.col.id);
    for (const h of heads) {
      if (h.component !== kindOnly) continue;
      const text = cachedResponse(ctx, props, 'calendar', res.col, h, res.address);
      if (text !== undefined) hits.set(h.name, text);
    }
    const rest = dav.objectsNamed(res.col.id, heads.filter((h) => !hits.has(h.name)).map((h) => h.name));
    candidates = heads.flatMap((h) => rest.get(h.name) ?? []);
    order = heads;
  } else {
    candidates = res.t === 'object' ? (res.obj ? [res.obj] : []) : dav.objects(res.col.id, wide);
    order = candidates;
  }
  const byName = new Map(candidates.map((o) => [o.name, o]));
  const w = new XmlWriter();
  const slicer = new Slicer();
  const pause = () => slicer.tick();
  return streamMultistatus(w, reportNamespaces(props), ctx.log, ctx.holdLease(), async (emit) => {
    for (const { name } of order) {
      if (slicer.due()) await slicer.tick();
      const hit = hits.get(name);
      if (hit !== undefined) {
        claimPrefixes(w, props);
        // Awaited only when the client has no room yet: most emits return at once.
        const room = emit(hit);
        if (room) await room;
        continue;
      }
      const obj = byName.get(name);
      if (!obj) continue;
      if (component && obj.component && obj.component !== component) continue;
      try {
        // Every object of the asked kind matches: the indexed component says so without a parse.
        if (kindOnly && obj.component === kindOnly) {
          /* matches */
        } else if (simple && obj.component === simple.component) {
          if (!(await objectOverlapsSliced(obj.etag, obj.data, simple.component, simple.range, zone, pause))) continue;
        } else if (!(await calendarFilterMatches(filter, parseVCalendar(obj.data), zone, obj.etag, pause))) continue;
        await prepareData(props, obj, pause);
        await emit(objectResponse(ctx, w, props, 'calendar', res.col, obj, res.address));
      } catch (err) {
        if (!(err instanceof RecurrenceLimitError)) throw err;
        ctx.log.warn({ object: obj.name, why: err.message }, 'calendar object left out of a query: its recurrence exceeds the budget');
      }
    }
  });
}
