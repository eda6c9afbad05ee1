/**
 * @module node/dav/reports/addressbook-query
 * addressbook-query (RFC 6352 §8.6) with prop-filter, param-filter and
 * text-match, and <limit><nresults> answered with a 507 for the
 * collection when results were cut (§8.6.1).
 */
import type { Ctx, Resource } from '../context.js';
import { DavError, pre } from '../errors.js';
import { checkAddressFilter } from '../filter-check.js';
import { addressFilterMatches } from '../filters.js';
import { hrefOf } from '../paths.js';
import { multistatus, statusResponse } from '../respond.js';
import { parseVCard } from '../vcard.js';
import { CARDDAV, XmlWriter, child, type XmlElement } from '../xml.js';
import { objectResponse, reportProps } from './common.js';

export function addressbookQuery(ctx: Ctx, res: Resource, root: XmlElement): Response {
  if ((res.t !== 'collection' && res.t !== 'object') || res.kind !== 'addressbook') throw new DavError(403, pre.dav('supported-report'), 'addressbook-query runs on an address book');
  const filter = child(root, CARDDAV, 'filter');
  if (!filter) throw new DavError(400, pre.card('valid-filter'), 'addressbook-query needs a <CARD:filter>');
  checkAddressFilter(filter);
  const nres = child(root, CARDDAV, 'limit');
  const limitText = nres ? child(nres, CARDDAV, 'nresults')?.text.trim() : undefined;
  const limit = limitText ? Number(limitText) : Infinity;
  if (!(limit > 0)) throw new DavError(400, null, 'nresults must be a positive number');
  const props = reportProps(root);
  const candidates = res.t === 'object' ? (res.obj ? [res.obj] : []) : ctx.lease.mailbox.dav.objects(res.col.id);
  const w = new XmlWriter();
  const out: string[] = [];
  let truncated = false;
  for (const obj of candidates) {
    let card;
    try {
      card = parseVCard(obj.data).card;
    } catch {
      continue; // stored before validation tightened: skip rather than fail the whole query
    }
    if (!addressFilterMatches(filter, card)) continue;
    if (out.length >= limit) {
      truncated = true;
      break;
    }
    out.push(objectResponse(ctx, w, props, 'addressbook', res.col, obj, res.address));
  }
  if (truncated) out.push(statusResponse(w, hrefOf(ctx.target), 507));
  return multistatus(w, out);
}
