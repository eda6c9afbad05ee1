/**
 * @module node/dav/methods/propfind
 * PROPFIND (RFC 4918 §9.1) at Depth 0 and 1. Depth infinity on a
 * collection is refused with DAV:propfind-finite-depth (§9.1.1): listing
 * every object of every collection in one reply is a cheap denial of
 * service. On an object it is Depth 0, since an object has no members. A
 * request without Depth means infinity (§9.1), and is treated so.
 */
import type { Ctx, Resource } from '../context.js';
import { readBody, resolve } from '../context.js';
import { DavError, pre } from '../errors.js';
import { hrefOf, href } from '../paths.js';
import { evaluateProps, type PropRequest } from '../props.js';
import { multistatus, propResponse } from '../respond.js';
import { CALDAV, CARDDAV, DAV, child, parseXml, type XmlElement, XmlWriter } from '../xml.js';
import { dataProp } from '../reports/data.js';

export function parsePropRequest(root: XmlElement | null): PropRequest {
  if (!root || child(root, DAV, 'allprop')) {
    const inc = root ? child(root, DAV, 'include') : undefined;
    return { kind: 'allprop', names: inc ? inc.children.map((c) => ({ ns: c.ns, local: c.local })) : [] };
  }
  if (child(root, DAV, 'propname')) return { kind: 'propname', names: [] };
  const prop = child(root, DAV, 'prop');
  if (!prop) throw new DavError(400, null, 'PROPFIND body needs <prop>, <allprop> or <propname>');
  return { kind: 'prop', names: prop.children.map((c) => ({ ns: c.ns, local: c.local })) };
}

type Depth = '0' | '1' | 'infinity';

/** RFC 4918 §10.2: 0, 1 or infinity; absent means infinity for PROPFIND (§9.1). */
export function propfindDepth(req: Request): { depth: Depth; sent: boolean } {
  const h = req.headers.get('depth');
  if (h === null) return { depth: 'infinity', sent: false };
  const d = h.trim().toLowerCase();
  if (d !== '0' && d !== '1' && d !== 'infinity') throw new DavError(400, null, 'Depth must be 0, 1 or infinity');
  return { depth: d, sent: true };
}

export async function propfind(ctx: Ctx): Promise<Response> {
  const { depth: asked, sent } = propfindDepth(ctx.req);
  const body = await readBody(ctx.req, ctx.limits.maxXmlBody, () => new DavError(413, null, 'the PROPFIND body is too large'));
  const root = body.trim() ? parseXml(body) : null;
  if (root && !(root.ns === DAV && root.local === 'propfind')) throw new DavError(400, null, 'the body of a PROPFIND is <propfind xmlns="DAV:">');
  const preq = parsePropRequest(root);
  const res = resolve(ctx);
  if (res.t === 'object' && !res.obj) throw new DavError(404, null, 'no such object; list the collection to see what exists');
  if (asked === 'infinity' && res.t !== 'object')
    throw new DavError(
      403,
      pre.dav('propfind-finite-depth'),
      sent ? 'Depth: infinity is not supported; walk the tree with Depth: 1' : 'a PROPFIND without a Depth header means Depth: infinity (RFC 4918 §9.1), which is not supported on collections; send Depth: 0 or Depth: 1',
    );
  const depth = asked === 'infinity' ? '0' : asked;
  const w = new XmlWriter();
  const wantsData = preq.names.some((n) => (n.ns === CALDAV && n.local === 'calendar-data') || (n.ns === CARDDAV && n.local === 'address-data'));
  const one = (r: Resource, h: string): string => {
    const { ok, missing } = evaluateProps(r, preq, ctx, w, (ns, local) => (r.t === 'object' && r.obj ? dataProp(r.kind, r.obj, ns, local, null, w) : undefined));
    return propResponse(w, h, ok, missing);
  };
  const out = [one(res, hrefOf(ctx.target))];
  if (depth === '1') {
    if (res.t === 'principals') {
      // Only the caller's own principal: other accounts are not discoverable (see node/dav/context).
      out.push(one({ t: 'principal', address: ctx.address }, href.principal(ctx.address)));
    } else if (res.t === 'home') {
      for (const col of ctx.lease.mailbox.dav.collections(res.kind)) out.push(one({ t: 'collection', kind: res.kind, address: res.address, col }, href.collection(res.kind, res.address, col.name)));
    } else if (res.t === 'collection') {
      const objs = wantsData ? ctx.lease.mailbox.dav.objects(res.col.id) : ctx.lease.mailbox.dav.objectMetas(res.col.id);
      for (const obj of objs)
        out.push(one({ t: 'object', kind: res.kind, address: res.address, col: res.col, name: obj.name, obj: { data: '', ...obj } }, href.object(res.kind, res.address, res.col.name, obj.name)));
    }
  }
  return multistatus(w, out);
}
