/**
 * The one grouping of a replica listing (node/replication/listing) that
 * status, retention and the restore plan share: keys that are not ours are
 * ignored, chains come back in index order whatever the store's order, and
 * retention keeps exactly what restores every moment inside the window.
 */
import { describe, expect, it } from 'vitest';
import { compareDbNames, expiredKeys, groupListing } from '../../node/replication/listing.js';
import { newGeneration, objectKey, type ObjectKind } from '../../node/replication/object.js';

const DAY = 86400_000;
const now = Date.UTC(2026, 11, 7);

function obj(db: string, gen: string, index: number, kind: ObjectKind, modified: number) {
  return { key: objectKey('', db, gen, index, kind), size: 100 + index, modified };
}

describe('groupListing', () => {
  it('groups by database and generation, orders chains by index, and ignores foreign keys', () => {
    const g1 = newGeneration(now - 3 * DAY);
    const g2 = newGeneration(now - DAY);
    const listing = [obj('spool', g1, 1, 'wal', now), obj('directory', g2, 2, 'wal', now), obj('directory', g1, 0, 'snapshot', now), obj('directory', g2, 0, 'snapshot', now), obj('directory', g2, 1, 'part', now), { key: 'README.txt', size: 3 }, obj('spool', g1, 0, 'snapshot', now)];
    const grouped = groupListing(listing);
    expect(grouped.map((d) => d.db)).toEqual(['directory', 'spool']);
    expect(grouped[0].generations.map((g) => g.id)).toEqual([g1, g2]);
    expect(grouped[0].generations[1].links.map((l) => `${l.index}.${l.kind}`)).toEqual(['0.snapshot', '1.part', '2.wal']);
    expect(grouped[0].generations[1].startedAt).toBe(now - DAY);
    expect(groupListing(listing, 'spool').map((d) => d.db)).toEqual(['spool']);
    expect(['mailbox-b', 'spool', 'directory', 'mailbox-a'].sort(compareDbNames)).toEqual(['directory', 'mailbox-a', 'mailbox-b', 'spool']);
  });
});

describe('expiredKeys (retention)', () => {
  const cutoff = now - 7 * DAY;
  it('drops generations superseded before the window and objects before the newest snapshot older than it', () => {
    const old = newGeneration(now - 20 * DAY);
    const superseded = newGeneration(now - 10 * DAY);
    const current = newGeneration(now - 9 * DAY);
    const listing = [
      obj('directory', old, 0, 'snapshot', now - 20 * DAY),
      obj('directory', superseded, 0, 'snapshot', now - 10 * DAY),
      // current: snapshot 0 and WAL before the window, snapshot 3 before it too, then WAL inside it
      obj('directory', current, 0, 'snapshot', now - 9 * DAY),
      obj('directory', current, 1, 'wal', now - 9 * DAY),
      obj('directory', current, 2, 'wal', now - 8 * DAY),
      obj('directory', current, 3, 'snapshot', now - 8 * DAY),
      obj('directory', current, 4, 'wal', now - 6 * DAY),
      obj('directory', current, 5, 'snapshot', now - 2 * DAY),
    ];
    const doomed = expiredKeys(groupListing(listing), cutoff, now).sort();
    expect(doomed).toEqual([listing[0].key, listing[1].key, listing[2].key, listing[3].key, listing[4].key].sort());
  });

  it('keeps a superseded generation while the next one began inside the window (a point in time may still need it)', () => {
    const a = newGeneration(now - 10 * DAY);
    const b = newGeneration(now - DAY);
    const listing = [obj('spool', a, 0, 'snapshot', now - 10 * DAY), obj('spool', a, 1, 'wal', now - 2 * DAY), obj('spool', b, 0, 'snapshot', now - DAY)];
    expect(expiredKeys(groupListing(listing), cutoff, now)).toEqual([]);
  });
});
