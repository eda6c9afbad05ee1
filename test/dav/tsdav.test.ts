/**
 * tsdav, a real CalDAV/CardDAV client, against the server over TLS:
 * discovery, calendars and address books, CRUD with ETags, every REPORT
 * tsdav speaks, and sync-collection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, client, event, startHarness, vcard, type DavHarness } from './helpers.js';

let h: DavHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe('CalDAV with tsdav', () => {
  it('discovers the principal and home through /.well-known/caldav and lists the default calendars', async () => {
    const c = await client(h);
    const cals = await c.fetchCalendars();
    const urls = cals.map((x) => new URL(x.url).pathname).sort();
    expect(urls).toEqual(['/dav/calendars/alice@example.test/default/', '/dav/calendars/alice@example.test/tasks/']);
    const def = cals.find((x) => x.url.endsWith('/default/'))!;
    expect(def.displayName).toBe('Calendar');
    expect(def.components).toEqual(['VEVENT']);
    expect(String(def.ctag)).toMatch(/^\d+$/);
    expect(def.syncToken).toMatch(/^http:\/\/haven\.invalid\/sync\/\d+$/);
  });

  it('creates, reads, updates with If-Match and deletes an event', async () => {
    const c = await client(h);
    const [cal] = (await c.fetchCalendars()).filter((x) => x.url.endsWith('/default/'));
    const created = await c.createCalendarObject({ calendar: cal, filename: 'crud.ics', iCalString: event('crud-1', '20260301T100000Z', '20260301T110000Z', ['SUMMARY:First']) });
    expect(created.status).toBe(201);
    const etag = created.headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);

    const objs = await c.fetchCalendarObjects({ calendar: cal, objectUrls: [cal.url + 'crud.ics'] });
    expect(objs).toHaveLength(1);
    expect(objs[0].etag).toBe(etag);
    expect(objs[0].data).toContain('SUMMARY:First');

    const stale = await c.updateCalendarObject({ calendarObject: { url: cal.url + 'crud.ics', etag: '"nope"', data: event('crud-1', '20260301T100000Z', '20260301T110000Z', ['SUMMARY:Lost']) } });
    expect(stale.status).toBe(412);
    const upd = await c.updateCalendarObject({ calendarObject: { url: cal.url + 'crud.ics', etag, data: event('crud-1', '20260301T100000Z', '20260301T110000Z', ['SUMMARY:Second']) } });
    expect(upd.status).toBe(204);
    const etag2 = upd.headers.get('etag')!;
    expect(etag2).not.toBe(etag);

    const del = await c.deleteCalendarObject({ calendarObject: { url: cal.url + 'crud.ics', etag: etag2 } });
    expect(del.status).toBe(204);
    const after = await c.fetchCalendarObjects({ calendar: cal });
    expect(after.map((o) => o.url)).not.toContain(cal.url + 'crud.ics');
  });

  it('makes a calendar with MKCALENDAR and sees its properties', async () => {
    const c = await client(h);
    const home = (await c.fetchCalendars())[0].url.replace(/[^/]+\/$/, '');
    const r = await c.makeCalendar({ url: home + 'work/', props: { displayname: 'Work', 'c:calendar-description': 'Office hours' } });
    expect(r[0]?.ok ?? true).toBe(true);
    const cals = await c.fetchCalendars();
    const work = cals.find((x) => x.url.endsWith('/work/'))!;
    expect(work.displayName).toBe('Work');
    expect(work.description).toBe('Office hours');
  });

  it('answers calendar-query with a time range and calendar-multiget', async () => {
    const c = await client(h);
    const [cal] = (await c.fetchCalendars()).filter((x) => x.url.endsWith('/default/'));
    await c.createCalendarObject({ calendar: cal, filename: 'jan.ics', iCalString: event('q-jan', '20270110T100000Z', '20270110T110000Z') });
    await c.createCalendarObject({ calendar: cal, filename: 'feb.ics', iCalString: event('q-feb', '20270210T100000Z', '20270210T110000Z') });
    const inJan = await c.fetchCalendarObjects({ calendar: cal, timeRange: { start: '2027-01-01T00:00:00Z', end: '2027-02-01T00:00:00Z' } });
    expect(inJan.map((o) => new URL(o.url, h.base).pathname.split('/').pop())).toEqual(['jan.ics']);
    const mg = await c.calendarMultiGet({ url: cal.url, props: { 'd:getetag': {}, 'c:calendar-data': {} }, objectUrls: [cal.url + 'feb.ics'], depth: '1' });
    const ok = mg.find((r) => r.href?.endsWith('feb.ics'))!;
    expect(ok.ok).toBe(true);
    expect(String(ok.props?.calendarData?._cdata ?? ok.props?.calendarData)).toContain('UID:q-feb');
    expect(mg).toHaveLength(1);
  });

  it('syncs a calendar with sync-collection: changes and deletions since a token', async () => {
    const c = await client(h);
    const home = (await c.fetchCalendars())[0].url.replace(/[^/]+\/$/, '');
    await c.makeCalendar({ url: home + 'synced/', props: { displayname: 'Synced' } });
    const cal = (await c.fetchCalendars()).find((x) => x.url.endsWith('/synced/'))!;
    await c.createCalendarObject({ calendar: cal, filename: 'a.ics', iCalString: event('s-a', '20260101T100000Z', '20260101T110000Z') });
    await c.createCalendarObject({ calendar: cal, filename: 'b.ics', iCalString: event('s-b', '20260102T100000Z', '20260102T110000Z') });
    const first = await c.syncCollection({ url: cal.url, props: { 'd:getetag': {} }, syncLevel: 1, syncToken: '' });
    const token = first.find((r) => r.raw?.multistatus?.syncToken)?.raw?.multistatus?.syncToken ?? (first as unknown as { raw?: { multistatus?: { syncToken?: string } } }[])[0]?.raw?.multistatus?.syncToken;
    expect(first.filter((r) => r.href).map((r) => r.href!.split('/').pop()).sort()).toEqual(['a.ics', 'b.ics']);
    expect(token).toMatch(/sync\/\d+$/);
    await c.deleteCalendarObject({ calendarObject: { url: cal.url + 'a.ics' } });
    await c.createCalendarObject({ calendar: cal, filename: 'c.ics', iCalString: event('s-c', '20260103T100000Z', '20260103T110000Z') });
    const next = await c.syncCollection({ url: cal.url, props: { 'd:getetag': {} }, syncLevel: 1, syncToken: token });
    const byName = Object.fromEntries(next.filter((r) => r.href).map((r) => [r.href!.split('/').pop(), r.status]));
    // tsdav reports the multistatus status (207) for responses with propstats.
    expect(Object.keys(byName).sort()).toEqual(['a.ics', 'c.ics']);
    expect(byName['a.ics']).toBe(404);
    expect(byName['c.ics']).not.toBe(404);
  });

  it('answers free-busy-query with the busy time of the calendar', async () => {
    const c = await client(h);
    const [cal] = (await c.fetchCalendars()).filter((x) => x.url.endsWith('/default/'));
    await c.createCalendarObject({ calendar: cal, filename: 'fb.ics', iCalString: event('fb-1', '20280110T100000Z', '20280110T113000Z') });
    const r = await c.freeBusyQuery({ url: cal.url, timeRange: { start: '2028-01-01T00:00:00Z', end: '2028-02-01T00:00:00Z' } });
    expect(r.status).toBe(200);
    const lines = String(r.raw).split('\r\n').filter((l) => l.startsWith('FREEBUSY'));
    expect(lines).toEqual(['FREEBUSY;FBTYPE=BUSY:20280110T100000Z/20280110T113000Z']);
  });

  it('syncCalendars reports a changed ctag after a change', async () => {
    const c = await client(h);
    const before = await c.fetchCalendars();
    const cal = before.find((x) => x.url.endsWith('/default/'))!;
    const dirty0 = await c.isCollectionDirty({ collection: cal });
    expect(dirty0.isDirty).toBe(false);
    await c.createCalendarObject({ calendar: cal, filename: 'dirty.ics', iCalString: event('dirty', '20260501T100000Z', '20260501T110000Z') });
    const dirty1 = await c.isCollectionDirty({ collection: cal });
    expect(dirty1.isDirty).toBe(true);
  });
});

describe('CardDAV with tsdav', () => {
  it('discovers the address book, creates contacts in vCard 3 and 4, queries and multigets them', async () => {
    const c = await client(h, ALICE, 'carddav');
    const books = await c.fetchAddressBooks();
    expect(books.map((b) => new URL(b.url).pathname)).toEqual(['/dav/addressbooks/alice@example.test/default/']);
    const book = books[0];
    const r3 = await c.createVCard({ addressBook: book, filename: 'ann.vcf', vCardString: vcard('ann', 'Ann Example', ['N:Example;Ann;;;', 'EMAIL;TYPE=INTERNET:ann@example.net'], '3.0') });
    expect(r3.status).toBe(201);
    const r4 = await c.createVCard({ addressBook: book, filename: 'bob.vcf', vCardString: vcard('bob', 'Bob Builder', ['EMAIL:bob@builder.example']) });
    expect(r4.status).toBe(201);
    const all = await c.fetchVCards({ addressBook: book });
    expect(all.map((v) => v.url.split('/').pop()).sort()).toEqual(['ann.vcf', 'bob.vcf']);
    expect(all.find((v) => v.url.endsWith('ann.vcf'))!.data).toContain('VERSION:3.0');

    const q = await c.addressBookQuery({
      url: book.url,
      props: { 'd:getetag': {}, 'card:address-data': {} },
      filters: { 'card:prop-filter': { _attributes: { name: 'EMAIL' }, 'card:text-match': { _attributes: { 'match-type': 'ends-with' }, _text: 'builder.example' } } },
      depth: '1',
    });
    expect(q.map((r) => r.href!.split('/').pop())).toEqual(['bob.vcf']);
    const mg = await c.addressBookMultiGet({ url: book.url, props: { 'd:getetag': {}, 'card:address-data': {} }, objectUrls: [book.url + 'ann.vcf'], depth: '1' });
    expect(mg).toHaveLength(1);
    expect(String(mg[0].props?.addressData?._cdata ?? mg[0].props?.addressData)).toContain('FN:Ann Example');
  });

  it('syncs an address book: a new contact and a tombstone for a deleted one', async () => {
    const c = await client(h, ALICE, 'carddav');
    const [book] = await c.fetchAddressBooks();
    const first = await c.syncCollection({ url: book.url, props: { 'd:getetag': {} }, syncLevel: 1, syncToken: '' });
    const token = (first as unknown as { raw?: { multistatus?: { syncToken?: string } } }[]).find((r) => r.raw?.multistatus?.syncToken)?.raw?.multistatus?.syncToken;
    expect(token).toMatch(/sync\/\d+$/);
    const bob = (await c.fetchVCards({ addressBook: book })).find((v) => v.url.endsWith('bob.vcf'))!;
    await c.deleteVCard({ vCard: { url: bob.url, etag: bob.etag } });
    await c.createVCard({ addressBook: book, filename: 'cy.vcf', vCardString: vcard('cy', 'Cy Young') });
    const next = await c.syncCollection({ url: book.url, props: { 'd:getetag': {} }, syncLevel: 1, syncToken: token });
    const byName = Object.fromEntries(next.filter((r) => r.href).map((r) => [r.href!.split('/').pop(), r.status]));
    expect(Object.keys(byName).sort()).toEqual(['bob.vcf', 'cy.vcf']);
    expect(byName['bob.vcf']).toBe(404);
    expect(byName['cy.vcf']).not.toBe(404);
  });
});
