/**
 * The open mailbox's cache of rendered REPORT responses: what it answers is
 * byte for byte what rendering answers (randomized multigets, queries and
 * sync reports, with properties in namespaces the writer has no fixed prefix
 * for), and a PUT, DELETE, MOVE or PROPPATCH is seen by the very next read.
 * calendar-multiget is RFC 4791 §7.9, calendar-query §7.8, addressbook-multiget
 * RFC 6352 §8.7, sync-collection RFC 6578 §3.2; getlastmodified (RFC 4918
 * §15.7) changes on every PUT even when the data, and so the ETag, does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RenderedCache } from '../../node/store/mailbox/rendered.js';
import { ALICE, dav, event, startHarness, vcard, type DavHarness } from './helpers.js';
import { rng } from '../helpers/rng.js';

const CAL = '/dav/calendars/alice@example.test/default/';
const BOOK = '/dav/addressbooks/alice@example.test/default/';
const N = 40;
let h: DavHarness;

/** The rendered cache of Alice's open mailbox. */
async function cache(): Promise<RenderedCache> {
  const lease = await h.t.store.openMailbox(h.t.store.directory.getAccount(ALICE.address)!.id);
  lease.release();
  return lease.mailbox.dav.rendered;
}

const PROPS = [
  '<D:getetag/>',
  '<C:calendar-data/>',
  '<D:getlastmodified/>',
  '<D:getcontenttype/>',
  '<D:getcontentlength/>',
  '<D:resourcetype/>',
  '<D:displayname/>',
  '<X:unknown xmlns:X="urn:example:one"/>',
  '<Y:other xmlns:Y="urn:example:two"/>',
  '<D:current-user-privilege-set/>',
];

const xmlns = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:R="urn:ietf:params:xml:ns:carddav"';

async function report(path: string, body: string, depth = '1'): Promise<{ status: number; text: string }> {
  const r = await dav(h, 'REPORT', path, { body, headers: { Depth: depth } });
  return { status: r.status, text: r.text };
}

/** The reply as rendered with an empty cache, and as answered right after from whatever the cache then holds. */
async function coldAndWarm(path: string, body: string): Promise<[string, string]> {
  (await cache()).clear();
  const cold = await report(path, body);
  expect(cold.status).toBe(207);
  const warm = await report(path, body);
  return [cold.text, warm.text];
}

beforeAll(async () => {
  h = await startHarness({ davResponseCacheBytes: 4 * 1024 * 1024 });
  for (let i = 0; i < N; i++) {
    const extra = [`SUMMARY:Event ${i} & <more>`, ...(i % 5 === 0 ? ['RRULE:FREQ=DAILY;COUNT=3'] : [])];
    expect((await dav(h, 'PUT', `${CAL}e${i}.ics`, { body: event(`ev-${i}`, `202603${String((i % 28) + 1).padStart(2, '0')}T100000Z`, `202603${String((i % 28) + 1).padStart(2, '0')}T110000Z`, extra), headers: { 'Content-Type': 'text/calendar' } })).status).toBe(201);
  }
  for (let i = 0; i < 10; i++) expect((await dav(h, 'PUT', `${BOOK}c${i}.vcf`, { body: vcard(`card-${i}`, `Person ${i}`), headers: { 'Content-Type': 'text/vcard' } })).status).toBe(201);
});
afterAll(async () => h.close());

describe('rendered responses are byte for byte what rendering writes', () => {
  it('randomized multigets, queries and sync reports, in one order and repeated with the cache warm by earlier ones', async () => {
    const next = rng(20_261_207);
    const pick = <T>(xs: T[], n: number) => [...xs].sort(() => next() - 0.5).slice(0, n);
    const seen: string[] = [];
    for (let round = 0; round < 30; round++) {
      const props = pick(PROPS, 1 + Math.floor(next() * 4)).join('');
      const kind = next();
      let path = CAL;
      let body: string;
      if (kind < 0.5) {
        const hrefs = Array.from({ length: 1 + Math.floor(next() * 12) }, () => `<D:href>${CAL}e${Math.floor(next() * (N + 3))}.ics</D:href>`).join('');
        body = `<C:calendar-multiget ${xmlns}><D:prop>${props}</D:prop>${hrefs}</C:calendar-multiget>`;
      } else if (kind < 0.8) {
        body = `<C:calendar-query ${xmlns}><D:prop>${props}</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>`;
      } else if (kind < 0.9) {
        path = BOOK;
        const hrefs = Array.from({ length: 1 + Math.floor(next() * 5) }, () => `<D:href>${BOOK}c${Math.floor(next() * 12)}.vcf</D:href>`).join('');
        body = `<R:addressbook-multiget ${xmlns}><D:prop><D:getetag/><R:address-data/>${props.replace('<C:calendar-data/>', '')}</D:prop>${hrefs}</R:addressbook-multiget>`;
      } else {
        body = `<D:sync-collection ${xmlns}><D:sync-token/><D:sync-level>1</D:sync-level><D:prop>${props}</D:prop></D:sync-collection>`;
      }
      // Warm from whatever earlier rounds left, then compared with a render from nothing.
      const warmFirst = await report(path, body);
      const [cold, warm] = await coldAndWarm(path, body);
      expect(warmFirst.text).toBe(cold);
      expect(warm).toBe(cold);
      seen.push(cold);
    }
    // The rounds did reach the cache, and across unknown namespaces (prefixes x0, x1 declared on the root).
    expect((await cache()).size).toBeGreaterThan(0);
    expect(seen.some((t) => t.includes('xmlns:x0="urn:example:'))).toBe(true);
  });

  it('a calendar-data shaped by <expand> or <comp> is rendered each time, never cached', async () => {
    const c = await cache();
    c.clear();
    const body = `<C:calendar-multiget ${xmlns}><D:prop><C:calendar-data><C:expand start="20260301T000000Z" end="20260310T000000Z"/></C:calendar-data></D:prop><D:href>${CAL}e0.ics</D:href></C:calendar-multiget>`;
    const a = await report(CAL, body);
    expect(a.text).toContain('RECURRENCE-ID');
    expect(c.size).toBe(0);
  });
});

describe('a write is seen by the next read', () => {
  const multiget = (props: string, ...names: string[]) => `<C:calendar-multiget ${xmlns}><D:prop>${props}</D:prop>${names.map((n) => `<D:href>${CAL}${n}</D:href>`).join('')}</C:calendar-multiget>`;

  it('PUT of new data, and PUT of the same data (same ETag, new getlastmodified)', async () => {
    const body = multiget('<D:getetag/><D:getlastmodified/><C:calendar-data/>', 'e1.ics', 'e2.ics');
    const before = await report(CAL, body);
    expect((await report(CAL, body)).text).toBe(before.text);
    expect((await dav(h, 'PUT', `${CAL}e1.ics`, { body: event('ev-1', '20260302T100000Z', '20260302T110000Z', ['SUMMARY:changed']), headers: { 'Content-Type': 'text/calendar' } })).status).toBe(204);
    const after = await report(CAL, body);
    expect(after.text).toContain('SUMMARY:changed');
    // Same data again a second later: the ETag stays, getlastmodified (whole seconds) moves.
    const e2 = await dav(h, 'GET', `${CAL}e2.ics`);
    const lastModified = () => /e2\.ics<\/d:href>.*?getlastmodified>([^<]+)</s.exec(after.text)?.[1];
    const was = lastModified();
    await waitForNextSecond(Date.parse(was!));
    expect((await dav(h, 'PUT', `${CAL}e2.ics`, { body: e2.text, headers: { 'Content-Type': 'text/calendar' } })).status).toBe(204);
    const again = await report(CAL, body);
    const [cold] = await coldAndWarm(CAL, body);
    expect(again.text).toBe(cold);
    expect(/e2\.ics<\/d:href>.*?getlastmodified>([^<]+)</s.exec(again.text)?.[1]).not.toBe(was);
  });

  it('DELETE: the next multiget answers 404 for it', async () => {
    const body = multiget('<D:getetag/><C:calendar-data/>', 'e3.ics');
    expect((await report(CAL, body)).text).toContain('BEGIN:VCALENDAR');
    expect((await dav(h, 'DELETE', `${CAL}e3.ics`)).status).toBe(204);
    const r = await report(CAL, body);
    expect(r.text).toContain('HTTP/1.1 404');
    expect(r.text).not.toContain('BEGIN:VCALENDAR');
  });

  it('MOVE: the old name answers 404, the new one its data', async () => {
    const body = multiget('<D:getetag/><C:calendar-data/>', 'e4.ics', 'moved.ics');
    const before = await report(CAL, body);
    expect(before.text).toContain('UID:ev-4');
    const m = await dav(h, 'MOVE', `${CAL}e4.ics`, { headers: { Destination: `${h.base}${CAL}moved.ics` } });
    expect(m.status).toBe(201);
    const r = await report(CAL, body);
    expect(r.text).toMatch(/e4\.ics<\/d:href><d:status>HTTP\/1\.1 404/);
    expect(r.text).toMatch(/moved\.ics<\/d:href><d:propstat>.*UID:ev-4/s);
  });

  it('a whole-calendar query (answered from the kept list of objects) sees a new object and a deleted one at once', async () => {
    const body = `<C:calendar-query ${xmlns}><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>`;
    const count = (t: string) => (t.match(/<d:response>/g) ?? []).length;
    const before = await report(CAL, body);
    expect((await report(CAL, body)).text).toBe(before.text);
    expect((await dav(h, 'PUT', `${CAL}zz-new.ics`, { body: event('ev-new', '20260305T100000Z', '20260305T110000Z'), headers: { 'Content-Type': 'text/calendar' } })).status).toBe(201);
    const added = await report(CAL, body);
    expect(count(added.text)).toBe(count(before.text) + 1);
    expect(added.text).toContain('UID:ev-new');
    expect(added.text).toBe((await coldAndWarm(CAL, body))[0]);
    expect((await dav(h, 'DELETE', `${CAL}zz-new.ics`)).status).toBe(204);
    const removed = await report(CAL, body);
    expect(removed.text).not.toContain('UID:ev-new');
    expect(count(removed.text)).toBe(count(before.text));
  });

  it('PROPPATCH of the calendar drops what was rendered from it', async () => {
    const c = await cache();
    await report(CAL, multiget('<D:getetag/><C:calendar-data/>', 'e5.ics', 'e6.ics'));
    expect(c.size).toBeGreaterThan(0);
    const p = await dav(h, 'PROPPATCH', CAL, { body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Renamed</D:displayname></D:prop></D:set></D:propertyupdate>` });
    expect(p.status).toBe(207);
    expect(c.size).toBe(0);
  });
});

/** Resolves once the clock has passed the whole second after `ms` (getlastmodified has whole seconds). */
async function waitForNextSecond(ms: number): Promise<void> {
  while (Date.now() < ms + 1000) await new Promise((r) => setTimeout(r, ms + 1000 - Date.now() + 5));
}
