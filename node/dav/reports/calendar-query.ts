/**
 * @module node/dav/reports/calendar-query
 * calendar-query (RFC 4791 §7.8): the store's time-span index narrows the
 * candidates, then each candidate is parsed and the filter evaluated with
 * recurrences expanded.
 */
import type { Ctx, Resource } from '../context.js';
import { DavError, pre } from '../errors.js';
import { checkCalendarFilter } from '../filter-check.js';
import { calendarFilterMatches, filterRange, simpleTimeRange } from '../filters.js';
import { objectOverlaps, parseVCalendar } from '../ical.js';
import { multistatus } from '../respond.js';
import { CALDAV, XmlWriter, child, type XmlElement } from '../xml.js';
import { objectResponse, reportProps } from './common.js';

export function calendarQuery(ctx: Ctx, res: Resource, root: XmlElement): Response {
  if ((res.t !== 'collection' && res.t !== 'object') || res.kind !== 'calendar') throw new DavError(403, pre.dav('supported-report'), 'calendar-query runs on a calendar or a calendar object');
  const filter = child(root, CALDAV, 'filter');
  if (!filter) throw new DavError(400, pre.cal('valid-filter'), 'calendar-query needs a <C:filter>');
  checkCalendarFilter(filter);
  const props = reportProps(root);
  const { range, component } = filterRange(filter);
  const dav = ctx.lease.mailbox.dav;
  const candidates = res.t === 'object' ? (res.obj ? [res.obj] : []) : dav.objects(res.col.id, range ?? undefined);
  const simple = simpleTimeRange(filter);
  const w = new XmlWriter();
  const out: string[] = [];
  for (const obj of candidates) {
    if (component && obj.component && obj.component !== component) continue;
    if (simple && obj.component === simple.component) {
      if (!objectOverlaps(obj.etag, obj.data, simple.component, simple.range)) continue;
    } else if (!calendarFilterMatches(filter, parseVCalendar(obj.data))) continue;
    out.push(objectResponse(ctx, w, props, 'calendar', res.col, obj, res.address));
  }
  return multistatus(w, out);
}
