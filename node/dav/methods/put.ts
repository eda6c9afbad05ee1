/**
 * @module node/dav/methods/put
 * PUT of a calendar object (RFC 4791 §5.3.2) or address object (RFC 6352
 * §6.3.2): size limit, content validation, If-Match / If-None-Match, UID
 * uniqueness per collection; 201 with the new strong ETag, 204 on update.
 * The reply comes after the store's durable commit, and after the iTIP
 * messages the change implies are queued (RFC 6638 implicit scheduling).
 */
import type { Ctx } from '../context.js';
import { readBody, resolve } from '../context.js';
import { DavError, pre } from '../errors.js';
import { parseCalendarObject, primeSpans } from '../ical.js';
import { sendFor } from '../scheduling/index.js';
import { checkTimezones } from '../timezone-check.js';
import { parseVCard } from '../vcard.js';

export function conditionalHeaders(req: Request): { ifMatch?: string; ifNoneMatch?: string } {
  const im = req.headers.get('if-match')?.trim();
  const inm = req.headers.get('if-none-match')?.trim();
  // Strip W/ so a weak copy of our strong tag still matches: clients
  // (and proxies) sometimes weaken tags.
  const norm = (v: string | undefined) => (v ? v.replace(/^W\//, '') : undefined);
  return { ifMatch: norm(im), ifNoneMatch: norm(inm) };
}

export async function put(ctx: Ctx): Promise<Response> {
  const res = resolve(ctx);
  if (res.t !== 'object') throw new DavError(405, null, 'PUT creates objects inside a calendar or address book; collections are made with MKCALENDAR or MKCOL');
  const p = res.kind === 'calendar' ? pre.cal : pre.card;
  const body = await readBody(ctx.req, ctx.limits.maxResourceSize, () => new DavError(403, p('max-resource-size'), `the object is larger than ${ctx.limits.maxResourceSize} bytes; remove attachments or split it`));
  const type = (ctx.req.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  let uid: string;
  let component: string | null = null;
  let firstStart: number | null = null;
  let lastEnd: number | null = null;
  let parsed: ReturnType<typeof parseCalendarObject> | null = null;
  if (res.kind === 'calendar') {
    if (type && type !== 'text/calendar') throw new DavError(403, pre.cal('supported-calendar-data'), `a calendar accepts text/calendar, not ${type}`);
    parsed = parseCalendarObject(body, res.col.components);
    checkTimezones(parsed.vcal);
    ({ uid, component, firstStart, lastEnd } = parsed);
  } else {
    if (type && type !== 'text/vcard' && type !== 'text/x-vcard' && type !== 'text/directory')
      throw new DavError(403, pre.card('supported-address-data'), `an address book accepts text/vcard, not ${type}`);
    uid = parseVCard(body).uid;
  }
  const cond = conditionalHeaders(ctx.req);
  const before = res.obj?.data ?? null;
  // RFC 4791 §5.3.2's 201 says the object is stored: resolved only once its commit is on disk.
  const r = await ctx.lease.mailbox.dav.putQueued(res.col.id, { name: res.name, uid, data: body, component, firstStart, lastEnd, ...cond }, ctx.origin);
  if (parsed) {
    primeSpans(r.etag, parsed);
    // RFC 6638 §3.2: the organizer's save invites, the attendee's answer replies. After the durable commit.
    if (before !== body) await sendFor(ctx.imip, ctx.log, ctx.address, before, body);
  }
  return new Response(null, { status: r.created ? 201 : 204, headers: { ETag: r.etag } });
}
