/**
 * Calendars and contacts in: from another CalDAV/CardDAV server (a real
 * Haven DAV listener over TLS, read with tsdav: RFC 6764 discovery, RFC 4791
 * calendar-query, RFC 6352 addressbook-query) with every calendar's name and
 * colour, and from .ics/.vcf files (X-WR-CALNAME, X-APPLE-CALENDAR-COLOR);
 * run twice, nothing is duplicated.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailbox, Store } from '../../node/store/index.js';
import { cliHarness, type CliHarness } from '../cli/helpers.js';
import { ALICE, client, event, startHarness, vcard, type DavHarness } from '../dav/helpers.js';

const pw = 'a long enough account password';
let h: DavHarness;
let cli: CliHarness;

function collections(mb: Mailbox) {
  return mb.dav.collections().map((c) => ({ kind: c.kind, name: c.name, displayName: c.displayName, color: c.color, objects: mb.dav.objects(c.id).map((o) => o.data).sort() }));
}

async function inStore<T>(store: Store, address: string, password: string, fn: (mb: Mailbox) => T): Promise<T> {
  const lease = await store.authenticate(address, password);
  try {
    return fn(lease.mailbox);
  } finally {
    lease.release();
  }
}

beforeAll(async () => {
  h = await startHarness();
  const c = await client(h);
  const home = (await c.fetchCalendars())[0].url.replace(/[^/]+\/$/, '');
  await c.makeCalendar({ url: home + 'work/', props: { displayname: 'Work' } });
  const work = (await c.fetchCalendars()).find((x) => x.url.endsWith('/work/'))!;
  await c.createCalendarObject({ calendar: work, filename: 'a.ics', iCalString: event('w-1', '20260301T100000Z', '20260301T110000Z', ['SUMMARY:Réunion']) });
  await c.createCalendarObject({ calendar: work, filename: 'b.ics', iCalString: event('w-2', '20260302T100000Z', '20260302T110000Z', ['RRULE:FREQ=WEEKLY;COUNT=3']) });
  await inStore(h.t.store, ALICE.address, ALICE.password, (mb) => mb.dav.updateCollection(mb.dav.collection('calendar', 'work')!.id, { color: '#00AA55FF' }));
  const cards = await client(h, ALICE, 'carddav');
  const [book] = await cards.fetchAddressBooks();
  await cards.createVCard({ addressBook: book, filename: 'z.vcf', vCardString: vcard('z-1', 'Zoë Ñandú', ['EMAIL:zoe@example.test']) });
  cli = cliHarness();
  expect((await cli.run(['domain', 'add', 'example.org'])).code).toBe(0);
  expect((await cli.run(['account', 'add', 'bob@example.org', '--password-stdin'], { stdin: pw + '\n' })).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await h?.close();
  cli?.cleanup();
});

describe('haven import https://… (CalDAV and CardDAV through tsdav)', () => {
  it('brings every calendar and address book with names, colours and each object as the server holds it; twice changes nothing', async () => {
    const url = `https://${encodeURIComponent(ALICE.address)}@localhost:${h.port}/`;
    for (let run = 0; run < 2; run++) {
      const r = await cli.run(['import', 'bob@example.org', url, '--insecure', '--password-stdin', '--source-password-stdin', '--json'], { stdin: `${pw}\n${ALICE.password}\n` });
      expect(r.err).toEqual([]);
      expect(r.code).toBe(0);
    }
    const want = await inStore(h.t.store, ALICE.address, ALICE.password, collections);
    const store = cli.openStore();
    try {
      const got = await inStore(store, 'bob@example.org', pw, collections);
      expect(got).toEqual(want);
      expect(got.find((c) => c.name === 'work')).toMatchObject({ displayName: 'Work', color: '#00AA55FF' });
    } finally {
      store.close();
    }
  }, 60_000);
});

describe('haven import file.ics / file.vcf', () => {
  it('one calendar per .ics with its X-WR-CALNAME and colour, one object per UID; one address book per .vcf', async () => {
    const ics = join(cli.dataDir, '..', 'Holidays.ics');
    writeFileSync(ics, ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//x//y//EN', 'X-WR-CALNAME:Jours fériés', 'X-APPLE-CALENDAR-COLOR:#FF8800', 'BEGIN:VEVENT', 'UID:h1', 'DTSTAMP:20260101T000000Z', 'DTSTART;VALUE=DATE:20260714', 'SUMMARY:Fête nationale', 'END:VEVENT', 'BEGIN:VEVENT', 'UID:h2', 'DTSTAMP:20260101T000000Z', 'DTSTART;VALUE=DATE:20261225', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n'));
    const vcf = join(cli.dataDir, '..', 'friends.vcf');
    writeFileSync(vcf, vcard('f1', 'Ana') + vcard('f2', 'Bo', [], '3.0'));
    for (const f of [ics, vcf, ics]) expect((await cli.run(['import', 'bob@example.org', f, '--password-stdin'], { stdin: `${pw}\n` })).code).toBe(0);
    const store = cli.openStore();
    try {
      const got = await inStore(store, 'bob@example.org', pw, collections);
      const hol = got.find((c) => c.name === 'Holidays')!;
      expect(hol).toMatchObject({ kind: 'calendar', displayName: 'Jours fériés', color: '#FF8800' });
      expect(hol.objects).toHaveLength(2);
      expect(hol.objects.join('')).toContain('SUMMARY:Fête nationale');
      expect(got.find((c) => c.name === 'friends')!.objects).toHaveLength(2);
    } finally {
      store.close();
    }
  }, 60_000);
});
