/**
 * @module node/dav/methods/get
 * GET and HEAD of an object: the stored text, byte for byte and never
 * re-serialised, with its strong ETag. Conditional requests in the order of
 * RFC 9110 §13.2.2: If-Match that does not match is 412, then If-None-Match
 * that matches is 304 (with the ETag, §15.4.5). Collections have no GET body.
 */
import type { Ctx } from '../context.js';
import { resolve } from '../context.js';
import { DavError } from '../errors.js';
import { etagList, strongMatch, weakMatch } from '../etag.js';
import { COLLECTION_PAGE } from '../respond.js';

const CONTENT_TYPE = { calendar: 'text/calendar; charset=utf-8', addressbook: 'text/vcard; charset=utf-8' } as const;

export async function get(ctx: Ctx): Promise<Response> {
  const res = resolve(ctx);
  if (res.t !== 'object') {
    return new Response(ctx.req.method === 'HEAD' ? null : COLLECTION_PAGE, { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  if (!res.obj) throw new DavError(404, null, 'no such object; list the collection with PROPFIND to see what exists');
  const etag = res.obj.etag;
  const ifMatch = etagList(ctx.req.headers.get('if-match'));
  if (ifMatch && !strongMatch(ifMatch, etag)) throw new DavError(412, null, 'the object changed since you read it (If-Match)', { ETag: etag });
  const headers = { ETag: etag, 'Content-Type': CONTENT_TYPE[res.kind], 'Last-Modified': new Date(res.obj.updatedAt).toUTCString() };
  const ifNoneMatch = etagList(ctx.req.headers.get('if-none-match'));
  if (ifNoneMatch && weakMatch(ifNoneMatch, etag)) return new Response(null, { status: 304, headers });
  return new Response(ctx.req.method === 'HEAD' ? null : res.obj.data, { status: 200, headers });
}
