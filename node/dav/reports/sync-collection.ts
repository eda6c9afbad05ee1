/**
 * @module node/dav/reports/sync-collection
 * sync-collection (RFC 6578 §3): with an empty token every object; with a
 * token, objects changed since and tombstones (404) of those deleted since.
 * A token is the collection's modseq at the time it was handed out, so it
 * stays valid for as long as tombstones are kept.
 */
import type { Ctx, Resource } from '../context.js';
import { DavError, pre } from '../errors.js';
import { href } from '../paths.js';
import { SYNC_PREFIX, syncToken } from '../props.js';
import { multistatus, statusResponse } from '../respond.js';
import { DAV, XmlWriter, child, type XmlElement } from '../xml.js';
import { objectResponse, reportProps } from './common.js';

export function syncCollection(ctx: Ctx, res: Resource, root: XmlElement): Response {
  if (res.t !== 'collection') throw new DavError(403, pre.dav('supported-report'), 'sync-collection runs on a calendar or address book');
  const level = child(root, DAV, 'sync-level')?.text.trim() ?? '1';
  if (level !== '1' && level !== 'infinite') throw new DavError(400, null, 'sync-level must be 1 or infinite');
  const tokenText = child(root, DAV, 'sync-token')?.text.trim() ?? '';
  let since = 0;
  if (tokenText) {
    const n = tokenText.startsWith(SYNC_PREFIX) ? Number(tokenText.slice(SYNC_PREFIX.length)) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > res.col.modseq) throw new DavError(403, pre.dav('valid-sync-token'), 'this sync token is not one this collection issued; sync again from an empty token');
    since = n;
  }
  const limitEl = child(root, DAV, 'limit');
  if (limitEl) {
    // We always answer in full; RFC 6578 §3.7 lets a server refuse a limit it will not honour.
    const n = Number(child(limitEl, DAV, 'nresults')?.text.trim());
    if (!(n > 0)) throw new DavError(400, null, 'nresults must be a positive number');
  }
  const props = reportProps(root);
  const dav = ctx.lease.mailbox.dav;
  const ch = dav.changesSince(res.col.id, since);
  const w = new XmlWriter();
  const out: string[] = [];
  for (const obj of ch.changed) out.push(objectResponse(ctx, w, props, res.kind, res.col, obj, res.address));
  if (since > 0) for (const name of ch.deleted) out.push(statusResponse(w, href.object(res.kind, res.address, res.col.name, name), 404));
  return multistatus(w, out, w.text(DAV, 'sync-token', syncToken(ch.modseq)));
}
