/**
 * @module node/dav/reports/common
 * What the REPORTs share: the requested properties (with the data
 * property's own request element, for <expand>) and one <response> per object.
 */
import type { CollectionKind, DavObject } from '../../store/index.js';
import type { Ctx, Resource } from '../context.js';
import { href } from '../paths.js';
import { evaluateProps, type PropRequest } from '../props.js';
import { propResponse } from '../respond.js';
import { CALDAV, DAV, XmlWriter, child, type XmlElement } from '../xml.js';
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
}

export function reportProps(root: XmlElement, zone: FloatingZone | null = null): ReportProps {
  const prop = child(root, DAV, 'prop');
  if (!prop) {
    if (child(root, DAV, 'allprop')) return { req: { kind: 'allprop', names: [] }, elements: new Map(), zone, prepared: new Map() };
    return { req: { kind: 'prop', names: [{ ns: DAV, local: 'getetag' }] }, elements: new Map(), zone, prepared: new Map() };
  }
  return {
    req: { kind: 'prop', names: prop.children.map((c) => ({ ns: c.ns, local: c.local })) },
    elements: new Map(prop.children.map((c) => [`{${c.ns}}${c.local}`, c])),
    zone,
    prepared: new Map(),
  };
}

/** Computes an expanded calendar-data ahead of objectResponse, walking in slices (RFC 4791 §9.6.5). */
export async function prepareData(p: ReportProps, obj: DavObject, pause: () => Promise<void>): Promise<void> {
  const text = await expandedCalendarData(obj.data, p.elements.get(`{${CALDAV}}calendar-data`) ?? null, p.zone, obj.etag, pause);
  if (text !== null) p.prepared.set(obj.etag, text);
}

export function objectResponse(ctx: Ctx, w: XmlWriter, p: ReportProps, kind: CollectionKind, col: Collection, obj: DavObject, address: string): string {
  const r: Resource = { t: 'object', kind, address, col, name: obj.name, obj };
  const { ok, missing } = evaluateProps(r, p.req, ctx, w, (ns, local) => dataProp(kind, obj, ns, local, p.elements.get(`{${ns}}${local}`) ?? null, w, p.zone, p.prepared.get(obj.etag)));
  return propResponse(w, href.object(kind, address, col.name, obj.name), ok, missing);
}
