/**
 * @module node/dav/methods/get
 * GET and HEAD of an object (the stored text, byte for byte, with its
 * strong ETag); If-None-Match answers 304. Collections have no GET body.
 */
import type { Ctx } from '../context.js';
import { resolve } from '../context.js';
import { DavError } from '../errors.js';
import { COLLECTION_PAGE } from '../respond.js';
import { conditionalHeaders } from './put.js';

export async function get(ctx: Ctx): Promise<Response> {
  const res = resolve(ctx);
  if (res.t !== 'object') {
    return new Response(ctx.req.method === 'HEAD' ? null : COLLECTION_PAGE, { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  if (!res.obj) throw new DavError(404, null, 'no such object; list the collection with PROPFIND to see what exists');
  const { ifNoneMatch } = conditionalHeaders(ctx.req);
  const headers = {
    ETag: res.obj.etag,
    'Content-Type': res.kind === 'calendar' ? 'text/calendar; charset=utf-8' : 'text/vcard; charset=utf-8',
    'Last-Modified': new Date(res.obj.updatedAt).toUTCString(),
  };
  if (ifNoneMatch && (ifNoneMatch === '*' || ifNoneMatch.split(/\s*,\s*/).includes(res.obj.etag))) return new Response(null, { status: 304, headers });
  return new Response(ctx.req.method === 'HEAD' ? null : res.obj.data, { status: 200, headers });
}
