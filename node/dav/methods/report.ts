/**
 * @module node/dav/methods/report
 * REPORT (RFC 3253 §3.6): reads the body and dispatches on its root element
 * to the CalDAV, CardDAV and sync-collection reports; any other report is
 * refused with DAV:supported-report.
 */
import type { Ctx } from '../context.js';
import { readBody, resolve } from '../context.js';
import { DavError, pre } from '../errors.js';
import { addressbookQuery } from '../reports/addressbook-query.js';
import { calendarQuery } from '../reports/calendar-query.js';
import { freeBusyQuery } from '../reports/free-busy.js';
import { multiget } from '../reports/multiget.js';
import { syncCollection } from '../reports/sync-collection.js';
import { CALDAV, CARDDAV, DAV, parseXml } from '../xml.js';

export async function report(ctx: Ctx): Promise<Response> {
  const body = await readBody(ctx.req, ctx.limits.maxXmlBody, () => new DavError(413, null, 'the REPORT body is too large; split the request'));
  const root = parseXml(body);
  const res = resolve(ctx);
  if (res.t === 'object' && !res.obj) throw new DavError(404, null, 'no such object');
  const k = `{${root.ns}}${root.local}`;
  switch (k) {
    case `{${CALDAV}}calendar-query`:
      return calendarQuery(ctx, res, root);
    case `{${CALDAV}}calendar-multiget`:
      return multiget(ctx, res, root, 'calendar');
    case `{${CALDAV}}free-busy-query`:
      return freeBusyQuery(ctx, res, root);
    case `{${CARDDAV}}addressbook-query`:
      return addressbookQuery(ctx, res, root);
    case `{${CARDDAV}}addressbook-multiget`:
      return multiget(ctx, res, root, 'addressbook');
    case `{${DAV}}sync-collection`:
      return syncCollection(ctx, res, root);
    default:
      throw new DavError(403, pre.dav('supported-report'), `REPORT ${root.local} is not supported here; see supported-report-set`);
  }
}
