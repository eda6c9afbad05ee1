/**
 * PUTs from several clients at once. The store commits the PUTs that reach
 * it together in one transaction, each in a savepoint of its own; these
 * checks hold whatever the grouping: each PUT is judged on its own
 * preconditions against what the PUTs before it left, a refused one changes
 * nothing and takes no other down with it, every 201 carries the strong ETag
 * of exactly what a GET then returns, and sync-collection reports exactly the
 * objects stored.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ALICE_CAL, dav, ICS, putAs, startHarness, type DavHarness } from './helpers.js';

let h: DavHarness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => h.close());

const event = (uid: string, summary: string) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven test//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', 'DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z', `SUMMARY:${summary}`, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');

const sync = (token: string) =>
  dav(h, 'REPORT', ALICE_CAL, { body: `<D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>` });
const tokenOf = (text: string) => /<[^>]*sync-token>([^<]+)</.exec(text)![1];

it('RFC 4791 §5.3.2 and §5.3.2.1, RFC 7232 §3.2, RFC 6578 §3.2: PUTs sent at once are each judged on their own; refusals take no other PUT with them', async () => {
  const before = tokenOf((await sync('')).text);
  const fresh = Array.from({ length: 10 }, (_, i) => `n${i}`);
  const replies = await Promise.all([
    ...fresh.map((n) => putAs(h, `${ALICE_CAL}${n}.ics`, event(`${n}@example.test`, n))),
    // RFC 7232 §3.2: If-None-Match: * on a resource that exists is false, so of two creates of one name exactly one succeeds.
    putAs(h, `${ALICE_CAL}dup.ics`, event('dup@example.test', 'first'), { ...ICS, 'If-None-Match': '*' }),
    putAs(h, `${ALICE_CAL}dup.ics`, event('dup@example.test', 'second'), { ...ICS, 'If-None-Match': '*' }),
    // RFC 4791 §5.3.2.1 CALDAV:no-uid-conflict: a second resource with n0's UID; whichever of the two comes second is refused.
    putAs(h, `${ALICE_CAL}clash.ics`, event('n0@example.test', 'clash')),
  ]);
  const byName = new Map<string, { status: number; etag: string | null; text: string }[]>();
  const names = [...fresh, 'dup', 'dup', 'clash'];
  replies.forEach((r, i) => byName.set(names[i], [...(byName.get(names[i]) ?? []), { status: r.status, etag: r.headers.get('etag'), text: r.text }]));

  for (const n of fresh.slice(1)) expect(byName.get(n)![0].status).toBe(201);
  const dups = byName.get('dup')!.map((r) => r.status).sort();
  expect(dups).toEqual([201, 412]);
  const pair = [byName.get('n0')![0], byName.get('clash')![0]];
  expect(pair.map((r) => r.status).sort()).toEqual([201, 403]);
  expect(pair.find((r) => r.status === 403)!.text).toContain('no-uid-conflict');

  // RFC 4791 §5.3.4: the ETag of each 201 is the strong ETag of what GET returns now; a refused PUT stored nothing.
  const stored: string[] = [];
  for (const [name, rs] of byName) {
    const won = rs.find((r) => r.status === 201);
    const get = await dav(h, 'GET', `${ALICE_CAL}${name}.ics`);
    if (!won) {
      expect(get.status).toBe(404);
      continue;
    }
    stored.push(`${name}.ics`);
    expect(get.status).toBe(200);
    expect(get.headers.get('etag')).toBe(won.etag);
  }
  expect(stored).toHaveLength(11);

  // RFC 6578 §3.2: from the token before, the changes are exactly the stored objects, each with that ETag.
  const after = await sync(before);
  expect(after.status).toBe(207);
  expect(tokenOf(after.text)).not.toBe(before);
  const reported = [...after.text.matchAll(/([^/<>]+\.ics)<\/[A-Za-z0-9]*:?href>/g)].map((m) => m[1]).sort();
  expect(reported).toEqual(stored.sort());
});

it('RFC 4791 §5.3.2: a second PUT of the same object sent at once with the first one\'s ETag as If-Match lands only if the first one did', async () => {
  const first = await putAs(h, `${ALICE_CAL}edit.ics`, event('edit@example.test', 'v0'));
  expect(first.status).toBe(201);
  const e0 = first.headers.get('etag')!;
  // Two editors both read v0 and save at once: RFC 7232 §3.1, exactly one If-Match holds.
  const [a, b] = await Promise.all([
    putAs(h, `${ALICE_CAL}edit.ics`, event('edit@example.test', 'a'), { ...ICS, 'If-Match': e0 }),
    putAs(h, `${ALICE_CAL}edit.ics`, event('edit@example.test', 'b'), { ...ICS, 'If-Match': e0 }),
  ]);
  expect([a.status, b.status].sort()).toEqual([204, 412]);
  const won = a.status === 204 ? a : b;
  const get = await dav(h, 'GET', `${ALICE_CAL}edit.ics`);
  expect(get.headers.get('etag')).toBe(won.headers.get('etag'));
  expect(get.text).toContain(a.status === 204 ? 'SUMMARY:a' : 'SUMMARY:b');
});
