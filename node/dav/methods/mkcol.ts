/**
 * @module node/dav/methods/mkcol
 * MKCALENDAR (RFC 4791 §5.3.1) and extended MKCOL (RFC 5689) inside the
 * caller's calendar or address book home, with initial properties set in
 * the same request. A plain MKCOL in a home makes a collection of that
 * home's kind, since Haven keeps no plain collections.
 */
import type { Ctx } from '../context.js';
import { readBody } from '../context.js';
import { DavError, notFound, pre } from '../errors.js';
import { applyChanges, propChanges } from './proppatch.js';
import { CALDAV, CARDDAV, DAV, child, childrenOf, parseXml, type XmlElement } from '../xml.js';

/** RFC 4918 §9.3.1: where no collection can be made, which answer says why. */
function refuseTarget(ctx: Ctx): never {
  const t = ctx.target;
  if (t.t !== 'object') throw new DavError(405, null, 'this collection already exists; MKCOL works only on an unmapped URL', { Allow: 'OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, REPORT, DELETE' });
  if (t.address !== ctx.address) throw notFound();
  const col = ctx.lease.mailbox.dav.collection(t.kind, t.collection);
  if (!col) throw new DavError(409, null, `the parent collection "${t.collection}" does not exist; make collections directly in your home`);
  if (ctx.lease.mailbox.dav.object(col.id, t.name))
    throw new DavError(405, null, 'an object already has this name; MKCOL works only on an unmapped URL', { Allow: 'OPTIONS, GET, HEAD, PROPFIND, REPORT, PUT, DELETE, MOVE' });
  throw new DavError(403, null, 'calendars and address books hold objects, not collections; make collections directly in your calendar or address book home');
}

/** The body types a MKCOL can carry (RFC 5689 §5.1, and any +xml type, RFC 7303 §4.2); anything else is 415 (RFC 4918 §9.3). */
const XML_TYPES = new Set(['application/xml', 'text/xml']);

export async function mkcol(ctx: Ctx): Promise<Response> {
  const t = ctx.target;
  // The body's type is judged first: a body this server cannot read is 415 wherever it is sent.
  const type = (ctx.req.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  const hasBody = ctx.req.headers.get('content-length') !== '0' && (ctx.req.headers.has('content-length') || ctx.req.headers.has('transfer-encoding'));
  if (hasBody && type && !XML_TYPES.has(type) && !type.endsWith('+xml')) throw new DavError(415, null, `a ${ctx.req.method} body is XML (application/xml), not ${type}`);
  if (t.t !== 'collection') return refuseTarget(ctx);
  if (t.address !== ctx.address) throw notFound();
  const isCal = ctx.req.method === 'MKCALENDAR';
  if (isCal && t.kind !== 'calendar') throw new DavError(403, null, 'MKCALENDAR works in the calendar home (/dav/calendars/<you>/)');
  const body = await readBody(ctx.req, ctx.limits.maxXmlBody, () => new DavError(413, null, 'the request body is too large'));
  let root: XmlElement | null = null;
  if (body.trim()) {
    root = parseXml(body);
    const okRoot = isCal ? root.ns === CALDAV && root.local === 'mkcalendar' : root.ns === DAV && root.local === 'mkcol';
    if (!okRoot) throw new DavError(415, null, isCal ? 'the body of MKCALENDAR is <C:mkcalendar>' : 'the body of an extended MKCOL is <D:mkcol>');
  }
  const changes = root ? propChanges(root) : [];
  // RFC 5689 §3.3: the resourcetype says what to make; it must match the home.
  const rt = changes.find((c) => c.el.ns === DAV && c.el.local === 'resourcetype');
  if (rt) {
    const wantsCal = !!child(rt.el, CALDAV, 'calendar');
    const wantsBook = !!child(rt.el, CARDDAV, 'addressbook');
    if ((t.kind === 'calendar' && !wantsCal) || (t.kind === 'addressbook' && !wantsBook))
      throw new DavError(403, pre.dav('valid-resourcetype'), `only ${t.kind === 'calendar' ? 'calendars' : 'address books'} can be made here`);
  }
  let components: string[] = t.kind === 'calendar' ? ['VEVENT', 'VTODO'] : [];
  const sccs = changes.find((c) => c.el.ns === CALDAV && c.el.local === 'supported-calendar-component-set');
  if (sccs) {
    components = childrenOf(sccs.el, CALDAV, 'comp').map((c) => (c.attrs['name'] ?? '').toUpperCase());
    if (components.some((c) => !['VEVENT', 'VTODO', 'VJOURNAL'].includes(c)) || components.length === 0)
      throw new DavError(403, pre.cal('supported-calendar-component'), 'a calendar can hold VEVENT, VTODO and VJOURNAL');
  }
  const dav = ctx.lease.mailbox.dav;
  if (dav.collection(t.kind, t.collection)) throw new DavError(405, pre.dav('resource-must-be-null'), `"${t.collection}" already exists; choose another name`);
  const col = dav.createCollection(t.kind, t.collection, { components });
  try {
    const { refused, invalid } = applyChanges(ctx, col, changes, true);
    if (refused.length) throw new DavError(403, pre.dav('cannot-modify-protected-property'), `cannot set ${refused.map((r) => r.el.local).join(', ')} when making a collection`);
    // RFC 4791 §5.3.1.1: a calendar-timezone that is not one VTIMEZONE fails MKCALENDAR with valid-calendar-data.
    if (invalid.length) throw new DavError(403, pre.cal('valid-calendar-data'), invalid[0].why);
  } catch (err) {
    dav.deleteCollection(col.id);
    throw err;
  }
  return new Response(null, { status: 201, headers: { 'Cache-Control': 'no-cache' } });
}
