/**
 * @module node/dav/reports/common
 * What the REPORTs share: the requested properties (with the data
 * property's own request element, for <expand>) and one <response> per object.
 */
import type { CollectionKind, DavObject, DavObjectHead } from '../../store/index.js';
import type { Ctx, Resource } from '../context.js';
import { href } from '../paths.js';
import { evaluateProps, type PropRequest } from '../props.js';
import { propResponse } from '../respond.js';
import { DavError, pre } from '../errors.js';
import { CALDAV, CARDDAV, DAV, XmlWriter, child, type XmlElement } from '../xml.js';
import { dataProp, expandedCalendarData } from './data.js';
import type { Collection } from '../../store/index.js';
import type { FloatingZone } from '../zones.js';

export interface ReportProps {
  req: PropRequest;
  /** The request elements by `{ns}local`, so calendar-data can read <expand>. */
  elements: Map<string, XmlElement>;
  /** The zone floating times are read in when calendar-data is expanded (RFC 4791 §9.6.5). */
  zone: FloatingZone | null;
  /** calendar-data computed ahead (in slices) by ETag: see prepareData. */
  prepared: Map<string, string>;
  /**
   * What the requested properties make of an object, as part of the key of
   * the mailbox's rendered-response cache; null when the request cannot be
   * answered from it (a data property shaped by <expand>, <comp> or
   * <limit-recurrence-set>, whose text also depends on a zone and a range).
   */
  cacheKey: string | null;
  /** The requested namespaces, in request order: see objectResponse. */
  namespaces: string[];
}

/**
 * The media types the data properties come in: RFC 4791 §9.6 (calendar-data,
 * text/calendar 2.0) and RFC 6352 §10.4 (address-data, text/vcard 3.0 or
 * 4.0, as sent). Asking for another is refused with the precondition the
 * REPORTs name (RFC 4791 §7.8-7.9 supported-calendar-data, RFC 6352
 * §8.6-8.7 supported-address-data), not answered in a type not asked for.
 */
function checkDataType(el: XmlElement): void {
  const type = el.attrs['content-type']?.trim().toLowerCase();
  const version = el.attrs['version']?.trim();
  if (el.ns === CALDAV && el.local === 'calendar-data') {
    if ((type !== undefined && type !== 'text/calendar') || (version !== undefined && version !== '2.0'))
      throw new DavError(403, pre.cal('supported-calendar-data'), `calendar data comes as text/calendar version 2.0, not ${type ?? 'text/calendar'} ${version ?? ''}`.trimEnd());
  } else if (el.ns === CARDDAV && el.local === 'address-data') {
    if ((type !== undefined && type !== 'text/vcard') || (version !== undefined && version !== '3.0' && version !== '4.0'))
      throw new DavError(403, pre.card('supported-address-data'), `address data comes as text/vcard version 3.0 or 4.0, not ${type ?? 'text/vcard'} ${version ?? ''}`.trimEnd());
  }
}

export function reportProps(root: XmlElement, zone: FloatingZone | null = null): ReportProps {
  const prop = child(root, DAV, 'prop');
  prop?.children.forEach(checkDataType);
  const of = (req: PropRequest, elements: Map<string, XmlElement>): ReportProps => ({
    req,
    elements,
    zone,
    prepared: new Map(),
    cacheKey: [...elements.values()].some((e) => e.children.length > 0) ? null : `${req.kind}\n${req.names.map((n) => `{${n.ns}}${n.local}`).join('\n')}`,
    namespaces: [...new Set(req.names.map((n) => n.ns))],
  });
  if (!prop) {
    if (child(root, DAV, 'allprop')) return of({ kind: 'allprop', names: [] }, new Map());
    return of({ kind: 'prop', names: [{ ns: DAV, local: 'getetag' }] }, new Map());
  }
  return of(
    { kind: 'prop', names: prop.children.map((c) => ({ ns: c.ns, local: c.local })) },
    new Map(prop.children.map((c) => [`{${c.ns}}${c.local}`, c])),
  );
}

/** The namespaces the responses to these properties may use, for a streamed multistatus's root. */
export function reportNamespaces(p: ReportProps): string[] {
  return p.namespaces;
}

/** Computes an expanded calendar-data ahead of objectResponse, walking in slices (RFC 4791 §9.6.5). */
export async function prepareData(p: ReportProps, obj: DavObject, pause: () => Promise<void>): Promise<void> {
  const text = await expandedCalendarData(obj.data, p.elements.get(`{${CALDAV}}calendar-data`) ?? null, p.zone, obj.etag, pause);
  if (text !== null) p.prepared.set(obj.etag, text);
}

/**
 * What the mailbox's rendered cache holds for this object under these
 * properties, if anything. An object's <response> depends only on the
 * requested properties, its href and its stored row (its modseq changes with
 * every write, its ETag with its data), so that is what the cache is keyed
 * by. Call claimPrefixes before emitting a hit.
 */
export function cachedResponse(ctx: Ctx, p: ReportProps, kind: CollectionKind, col: Collection, head: DavObjectHead, address: string): string | undefined {
  const cache = ctx.lease.mailbox.dav.rendered;
  if (p.cacheKey === null || cache.maxBytes === 0) return undefined;
  return cache.get(head.modseq, p.cacheKey, href.object(kind, address, col.name, head.name), head.etag);
}

/** Whether a reply to these properties can be answered from the mailbox's rendered cache. */
export function cacheable(ctx: Ctx, p: ReportProps): boolean {
  return p.cacheKey !== null && ctx.lease.mailbox.dav.rendered.maxBytes > 0;
}

/**
 * The writer gives namespaces outside its fixed set prefixes in order of
 * first use; rendering a response uses them in request order, so a cached
 * one claims the same prefixes in the same order, and the document's root
 * declares exactly what it would have.
 */
export function claimPrefixes(w: XmlWriter, p: ReportProps): void {
  for (const ns of p.namespaces) w.prefix(ns);
}

/** One object's <response>, from the mailbox's rendered cache when it holds it, rendered (and kept there) otherwise. */
export function objectResponse(ctx: Ctx, w: XmlWriter, p: ReportProps, kind: CollectionKind, col: Collection, obj: DavObject, address: string): string {
  const at = href.object(kind, address, col.name, obj.name);
  const cache = ctx.lease.mailbox.dav.rendered;
  const keep = p.cacheKey !== null && cache.maxBytes > 0;
  if (keep) {
    const hit = cache.get(obj.modseq, p.cacheKey!, at, obj.etag);
    if (hit !== undefined) {
      claimPrefixes(w, p);
      return hit;
    }
  }
  const r: Resource = { t: 'object', kind, address, col, name: obj.name, obj };
  const { ok, missing } = evaluateProps(r, p.req, ctx, w, (ns, local) => dataProp(kind, obj, ns, local, p.elements.get(`{${ns}}${local}`) ?? null, w, p.zone, p.prepared.get(obj.etag)));
  const text = propResponse(w, at, ok, missing);
  if (keep) cache.set(col.id, obj.modseq, p.cacheKey!, at, obj.etag, text);
  return text;
}
