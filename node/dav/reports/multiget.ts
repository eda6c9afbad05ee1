/**
 * @module node/dav/reports/multiget
 * calendar-multiget (RFC 4791 §7.9) and addressbook-multiget (RFC 6352
 * §8.7): the named objects of this collection; any other href, including
 * another account's, answers 404 in its own <response>.
 */
import type { Ctx, Resource } from '../context.js';
import { DavError, pre } from '../errors.js';
import { parseHref } from '../paths.js';
import { statusResponse, streamMultistatus } from '../respond.js';
import { DAV, XmlWriter, childrenOf, type XmlElement } from '../xml.js';
import { queryZone } from './calendar-query.js';
import type { DavObject } from '../../store/index.js';
import { cachedResponse, cacheable, claimPrefixes, objectResponse, prepareData, reportNamespaces, reportProps } from './common.js';
import { Slicer } from './slices.js';

export async function multiget(ctx: Ctx, res: Resource, root: XmlElement, kind: 'calendar' | 'addressbook'): Promise<Response> {
  if ((res.t !== 'collection' && res.t !== 'object') || res.kind !== kind) throw new DavError(403, pre.dav('supported-report'), `${root.local} runs on ${kind === 'calendar' ? 'a calendar' : 'an address book'}`);
  const hrefs = childrenOf(root, DAV, 'href').map((h) => h.text.trim());
  if (hrefs.length > ctx.limits.maxMultiget) throw new DavError(403, pre.dav('number-of-matches-within-limits'), `at most ${ctx.limits.maxMultiget} hrefs per multiget; split the request`);
  const props = reportProps(root, kind === 'calendar' ? queryZone(null, res) : null);
  const w = new XmlWriter();
  const slicer = new Slicer();
  const pause = () => slicer.tick();
  // One query for every named object of this collection; the rest answer 404 in their own <response>.
  const names = hrefs.map((h) => {
    const t = parseHref(h);
    return t && t.t === 'object' && t.kind === kind && t.address === res.address && t.collection === res.col.name ? t.name : null;
  });
  const named = names.filter((n): n is string => n !== null);
  // Responses the mailbox has rendered before need no data: read the rows without it, and the data only of the rest.
  const hits = new Map<string, string>();
  let found: Map<string, DavObject>;
  if (cacheable(ctx, props)) {
    const heads = ctx.lease.mailbox.dav.headsNamed(res.col.id, named);
    for (const [name, head] of heads) {
      const text = cachedResponse(ctx, props, kind, res.col, head, res.address);
      if (text !== undefined) hits.set(name, text);
    }
    found = ctx.lease.mailbox.dav.objectsNamed(res.col.id, [...heads.keys()].filter((n) => !hits.has(n)));
  } else found = ctx.lease.mailbox.dav.objectsNamed(res.col.id, named);
  return streamMultistatus(w, reportNamespaces(props), ctx.log, ctx.holdLease(), async (emit) => {
    for (let i = 0; i < hrefs.length; i++) {
      if (slicer.due()) await pause();
      const hit = names[i] === null ? undefined : hits.get(names[i]!);
      if (hit !== undefined) {
        claimPrefixes(w, props);
        // Awaited only when the client has no room yet: most emits return at once.
        const room = emit(hit);
        if (room) await room;
        continue;
      }
      const obj = names[i] === null ? undefined : found.get(names[i]!);
      if (!obj) {
        await emit(statusResponse(w, hrefs[i], 404));
        continue;
      }
      if (kind === 'calendar') await prepareData(props, obj, pause);
      await emit(objectResponse(ctx, w, props, kind, res.col, obj, res.address));
    }
  });
}
