/**
 * @module node/dav/methods/move
 * MOVE of one object to another name or collection of the same kind and
 * account (RFC 4918 §9.9), in one store transaction. Collections do not
 * move: clients rename with PROPPATCH displayname.
 */
import type { Ctx } from '../context.js';
import { resolve } from '../context.js';
import { DavError } from '../errors.js';
import { href, parseHref } from '../paths.js';
import { conditionalHeaders } from './put.js';

export async function move(ctx: Ctx): Promise<Response> {
  const res = resolve(ctx);
  if (res.t !== 'object') throw new DavError(403, null, 'only objects can be moved; rename a collection with PROPPATCH displayname');
  if (!res.obj) throw new DavError(404, null, 'no such object to move');
  const destHeader = ctx.req.headers.get('destination');
  if (!destHeader) throw new DavError(400, null, 'MOVE needs a Destination header');
  const dest = parseHref(destHeader);
  if (destHeader.match(/^https?:\/\//i) && new URL(destHeader).host !== ctx.url.host) throw new DavError(502, null, 'the Destination is on another server; copy the data there instead');
  if (!dest || dest.t !== 'object') throw new DavError(409, null, 'the Destination must name an object inside a calendar or address book');
  const to = resolve(ctx, dest);
  if (to.t !== 'object' || to.kind !== res.kind) throw new DavError(409, null, 'objects move only between collections of the same kind');
  if (res.kind === 'calendar' && to.col.components.length && res.obj.component && !to.col.components.includes(res.obj.component))
    throw new DavError(403, { ns: 'urn:ietf:params:xml:ns:caldav', name: 'supported-calendar-component' }, `the destination calendar does not hold ${res.obj.component}`);
  const overwrite = (ctx.req.headers.get('overwrite') ?? 'T').trim().toUpperCase() !== 'F';
  const existed = to.obj !== null;
  const r = ctx.lease.mailbox.dav.move({ collectionId: res.col.id, name: res.name, ifMatch: conditionalHeaders(ctx.req).ifMatch }, { collectionId: to.col.id, name: to.name, overwrite }, ctx.origin);
  // RFC 4918 §9.9.4: 201 when a new mapping was made; RFC 9110 §15.3.2: Location names it.
  if (existed) return new Response(null, { status: 204, headers: { ETag: r.etag } });
  return new Response(null, { status: 201, headers: { ETag: r.etag, Location: href.object(to.kind, to.address, to.col.name, to.name) } });
}
