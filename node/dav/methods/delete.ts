/**
 * @module node/dav/methods/delete
 * DELETE of an object (leaving a tombstone for sync-collection) or of a
 * whole calendar or address book (RFC 4918 §9.6), with If-Match.
 */
import type { Ctx } from '../context.js';
import { resolve } from '../context.js';
import { DavError } from '../errors.js';
import { sendFor } from '../scheduling/index.js';
import { conditionalHeaders } from './put.js';

export async function del(ctx: Ctx): Promise<Response> {
  const res = resolve(ctx);
  const { ifMatch } = conditionalHeaders(ctx.req);
  if (res.t === 'object') {
    if (!res.obj) throw new DavError(404, null, 'no such object; it may have been deleted already');
    // The 204 says the object is gone (RFC 4918 §9.6): once the commit is on disk, group-committed like PUT's.
    await ctx.lease.mailbox.dav.deleteDeferred(res.col.id, res.name, ifMatch, ctx.origin).durable;
    // RFC 6638 §3.2: an organizer's delete cancels, an attendee's declines.
    if (res.kind === 'calendar') await sendFor(ctx.imip, ctx.log, ctx.address, res.obj.data, null);
    return new Response(null, { status: 204 });
  }
  if (res.t === 'collection') {
    if (ifMatch && ifMatch !== '*' && ifMatch !== `"${res.col.modseq}"`) throw new DavError(412, null, 'the collection changed since you read it; fetch it again');
    ctx.lease.mailbox.dav.deleteCollection(res.col.id);
    return new Response(null, { status: 204 });
  }
  throw new DavError(403, null, 'only calendars, address books and their objects can be deleted');
}
