/**
 * @module node/dav/methods/proppatch
 * PROPPATCH (RFC 4918 §9.2) on calendars and address books: display name,
 * description, color and time zone go to their columns, anything else is
 * kept as a dead property. All or nothing: one protected property fails the
 * request with 403 for it and 424 for the rest.
 */
import type { Collection } from '../../store/index.js';
import type { Ctx } from '../context.js';
import { readBody, resolve } from '../context.js';
import { DavError } from '../errors.js';
import { hrefOf } from '../paths.js';
import { COLUMN_PROPS, isProtected, key } from '../props.js';
import { multistatus, propResponse, propstat } from '../respond.js';
import { DAV, XmlWriter, childrenOf, parseXml, serializeStandalone, type XmlElement } from '../xml.js';
import { DavError as _D } from '../errors.js';
import { CALDAV } from '../xml.js';
import { parseVCalendar } from '../ical.js';

export interface PropChange {
  el: XmlElement;
  remove: boolean;
}

/** Reads <set>/<remove> blocks in document order (RFC 4918 §14.19). */
export function propChanges(root: XmlElement): PropChange[] {
  const out: PropChange[] = [];
  for (const block of root.children) {
    if (block.ns !== DAV || (block.local !== 'set' && block.local !== 'remove')) continue;
    for (const prop of childrenOf(block, DAV, 'prop')) for (const el of prop.children) out.push({ el, remove: block.local === 'remove' });
  }
  return out;
}

/** Applies changes to a collection; returns the names that were refused (protected), applying nothing if any. */
export function applyChanges(ctx: Ctx, col: Collection, changes: PropChange[], allowResourcetype = false): { refused: PropChange[] } {
  const refused = changes.filter((c) => {
    const k = key(c.el.ns, c.el.local);
    if (allowResourcetype && (k === key(DAV, 'resourcetype') || k === key(CALDAV, 'supported-calendar-component-set'))) return false;
    return isProtected(k);
  });
  if (refused.length) return { refused };
  const update: Partial<Pick<Collection, 'displayName' | 'description' | 'color' | 'timezone' | 'props'>> = {};
  const props = { ...col.props };
  for (const c of changes) {
    const k = key(c.el.ns, c.el.local);
    if (allowResourcetype && (k === key(DAV, 'resourcetype') || k === key(CALDAV, 'supported-calendar-component-set'))) continue;
    const column = COLUMN_PROPS[k];
    if (column) {
      const v = c.remove ? null : c.el.text.trim();
      if (column === 'timezone' && v) parseVCalendar(v.replace(/\r?\n/g, '\r\n'));
      update[column] = v;
    } else if (c.remove) delete props[k];
    else props[k] = serializeStandalone(c.el);
  }
  if (JSON.stringify(props).length > 64 * 1024) throw new _D(507, null, 'too many or too large custom properties on this collection; remove some');
  update.props = props;
  ctx.lease.mailbox.dav.updateCollection(col.id, update);
  return { refused: [] };
}

export async function proppatch(ctx: Ctx): Promise<Response> {
  const res = resolve(ctx);
  if (res.t !== 'collection') throw new DavError(403, { ns: DAV, name: 'cannot-modify-protected-property' }, 'only calendars and address books have properties you can change');
  const body = await readBody(ctx.req, ctx.limits.maxXmlBody, () => new DavError(413, null, 'the PROPPATCH body is too large'));
  const root = parseXml(body);
  if (root.ns !== DAV || root.local !== 'propertyupdate') throw new DavError(400, null, 'the body of a PROPPATCH is <propertyupdate xmlns="DAV:">');
  const changes = propChanges(root);
  const { refused } = applyChanges(ctx, res.col, changes);
  const w = new XmlWriter();
  const name = (c: PropChange) => w.el(c.el.ns, c.el.local);
  if (refused.length) {
    const others = changes.filter((c) => !refused.includes(c));
    const inner = w.text(DAV, 'href', hrefOf(ctx.target)) + propstat(w, refused.map(name), 403) + (others.length ? propstat(w, others.map(name), 424) : '');
    return multistatus(w, [w.el(DAV, 'response', inner)]);
  }
  return multistatus(w, [propResponse(w, hrefOf(ctx.target), changes.map(name), [])]);
}
