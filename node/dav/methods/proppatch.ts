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
import { DavError, notFound } from '../errors.js';
import { hrefOf } from '../paths.js';
import { COLUMN_PROPS, isProtected, key, langKey } from '../props.js';
import { multistatus, propResponse, propstat } from '../respond.js';
import { DAV, XmlWriter, childrenOf, parseXml, serializeStandalone, type XmlElement } from '../xml.js';
import { DavError as _D } from '../errors.js';
import { CALDAV } from '../xml.js';
import { calendarTimezoneProblem } from '../timezone-check.js';

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

/** A change with a value the property cannot hold, and why. */
export interface InvalidChange {
  change: PropChange;
  why: string;
}

/** Values checked before anything is written: RFC 4791 §5.2.2 calendar-timezone. */
function invalidValue(c: PropChange): string | null {
  if (c.remove || c.el.ns !== CALDAV || c.el.local !== 'calendar-timezone') return null;
  return calendarTimezoneProblem(c.el.text.trim());
}

/**
 * Applies changes to a collection, or none of them: the protected
 * properties among them are returned as refused, values a property cannot
 * hold as invalid.
 */
export function applyChanges(ctx: Ctx, col: Collection, changes: PropChange[], allowResourcetype = false): { refused: PropChange[]; invalid: InvalidChange[] } {
  const refused = changes.filter((c) => {
    const k = key(c.el.ns, c.el.local);
    if (allowResourcetype && (k === key(DAV, 'resourcetype') || k === key(CALDAV, 'supported-calendar-component-set'))) return false;
    return isProtected(k);
  });
  const invalid = changes.flatMap((change) => {
    const why = invalidValue(change);
    return why === null ? [] : [{ change, why }];
  });
  if (refused.length || invalid.length) return { refused, invalid };
  const update: Partial<Pick<Collection, 'displayName' | 'description' | 'color' | 'timezone' | 'props'>> = {};
  const props = { ...col.props };
  for (const c of changes) {
    const k = key(c.el.ns, c.el.local);
    if (allowResourcetype && (k === key(DAV, 'resourcetype') || k === key(CALDAV, 'supported-calendar-component-set'))) continue;
    const column = COLUMN_PROPS[k];
    if (column) {
      update[column] = c.remove ? null : c.el.text.trim();
      if (!c.remove && c.el.lang) props[langKey(k)] = c.el.lang;
      else delete props[langKey(k)];
    } else if (c.remove) delete props[k];
    else props[k] = serializeStandalone(c.el);
  }
  if (JSON.stringify(props).length > 64 * 1024) throw new _D(507, null, 'too many or too large custom properties on this collection; remove some');
  update.props = props;
  ctx.lease.mailbox.dav.updateCollection(col.id, update);
  return { refused: [], invalid: [] };
}

export async function proppatch(ctx: Ctx): Promise<Response> {
  const res = resolve(ctx);
  if (res.t === 'object' && !res.obj) throw notFound('no such object');
  if (res.t !== 'collection') throw new DavError(403, { ns: DAV, name: 'cannot-modify-protected-property' }, 'only calendars and address books have properties you can change');
  const body = await readBody(ctx.req, ctx.limits.maxXmlBody, () => new DavError(413, null, 'the PROPPATCH body is too large'));
  const root = parseXml(body);
  if (root.ns !== DAV || root.local !== 'propertyupdate') throw new DavError(400, null, 'the body of a PROPPATCH is <propertyupdate xmlns="DAV:">');
  const changes = propChanges(root);
  const { refused, invalid } = applyChanges(ctx, res.col, changes);
  const w = new XmlWriter();
  const name = (c: PropChange) => w.el(c.el.ns, c.el.local);
  if (refused.length || invalid.length) {
    // RFC 4918 §9.2: 403 for each property that failed, with its precondition (§14.22), 424 for the rest.
    const failed = new Set([...refused, ...invalid.map((i) => i.change)]);
    const others = changes.filter((c) => !failed.has(c));
    let inner = w.text(DAV, 'href', hrefOf(ctx.target));
    if (refused.length) inner += propstat(w, refused.map(name), 403, w.el(DAV, 'cannot-modify-protected-property'));
    for (const i of invalid) inner += propstat(w, [name(i.change)], 403, w.el(CALDAV, 'valid-calendar-data'), i.why);
    if (others.length) inner += propstat(w, others.map(name), 424);
    return multistatus(w, [w.el(DAV, 'response', inner)]);
  }
  return multistatus(w, [propResponse(w, hrefOf(ctx.target), changes.map(name), [])]);
}
