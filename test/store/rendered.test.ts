/**
 * The open mailbox's rendered-response cache stays inside its byte bound,
 * forgets the oldest entries first, and drops a collection's
 * entries on demand (what every DAV write does).
 */
import { describe, expect, it } from 'vitest';
import { RenderedCache, RenderedPool } from '../../node/store/mailbox/rendered.js';

describe('RenderedCache', () => {
  it('never holds more than its bound, forgetting the oldest first', () => {
    const c = new RenderedCache(64 * 1024);
    const text = 'x'.repeat(1000);
    for (let i = 0; i < 200; i++) {
      c.set(1, i, 'p', `/h${i}`, '"e"', text);
      expect(c.bytes).toBeLessThanOrEqual(64 * 1024);
    }
    expect(c.get(0, 'p', '/h0', '"e"')).toBeUndefined();
    expect(c.get(199, 'p', '/h199', '"e"')).toBe(text);
    expect(c.size).toBeLessThan(40);
  });

  it('answers only for the same variant, href and ETag', () => {
    const c = new RenderedCache(64 * 1024);
    c.set(1, 7, 'etag+data', '/a.ics', '"1"', 'text');
    expect(c.get(7, 'etag+data', '/a.ics', '"1"')).toBe('text');
    expect(c.get(7, 'etag', '/a.ics', '"1"')).toBeUndefined();
    expect(c.get(7, 'etag+data', '/b.ics', '"1"')).toBeUndefined();
    expect(c.get(7, 'etag+data', '/a.ics', '"2"')).toBeUndefined();
    expect(c.get(8, 'etag+data', '/a.ics', '"1"')).toBeUndefined();
  });

  it('refuses an entry over a quarter of its bound, and holds nothing when the bound is 0', () => {
    const c = new RenderedCache(4000);
    c.set(1, 1, 'p', '/big', '"e"', 'y'.repeat(600));
    expect(c.get(1, 'p', '/big', '"e"')).toBeUndefined();
    const off = new RenderedCache(0);
    off.set(1, 1, 'p', '/k', '"e"', 'v');
    expect(off.size).toBe(0);
    expect(off.bytes).toBe(0);
  });

  it('drops one collection and keeps the others; replacing a key does not count it twice', () => {
    const c = new RenderedCache(1024 * 1024);
    c.set(1, 1, 'p', '/a', '"e"', 'one');
    c.set(2, 2, 'p', '/b', '"e"', 'two');
    c.set(1, 1, 'p', '/a', '"e"', 'uno');
    const afterReplace = c.bytes;
    c.dropCollection(1);
    expect(c.get(1, 'p', '/a', '"e"')).toBeUndefined();
    expect(c.get(2, 'p', '/b', '"e"')).toBe('two');
    expect(c.bytes).toBeLessThan(afterReplace);
    c.clear();
    expect(c.bytes).toBe(0);
  });

  it("keeps a collection's list of objects only for the modseq it was read at, inside the same bound", () => {
    const c = new RenderedCache(64 * 1024);
    const head = (name: string) => ({ collectionId: 1, name, uid: name, etag: '"e"', component: 'VEVENT', firstStart: null, lastEnd: null, modseq: 1, updatedAt: 0 });
    c.setHeads(1, 10, [head('a.ics'), head('b.ics')]);
    expect(c.headsAt(1, 10)?.byName.get('b.ics')?.name).toBe('b.ics');
    expect(c.headsAt(1, 11)).toBeUndefined();
    expect(c.headsAt(2, 10)).toBeUndefined();
    const withHeads = c.bytes;
    expect(withHeads).toBeGreaterThan(0);
    c.dropCollection(1);
    expect(c.headsAt(1, 10)).toBeUndefined();
    expect(c.bytes).toBe(0);
    // Too large for the bound: not kept.
    c.setHeads(1, 10, Array.from({ length: 500 }, (_, i) => head(`n${i}.ics`)));
    expect(c.headsAt(1, 10)).toBeUndefined();
    expect(c.bytes).toBe(0);
  });

  it('keeps all open mailboxes together inside the shared pool, which a clear gives back', () => {
    const pool = new RenderedPool(16 * 1024);
    const a = new RenderedCache(64 * 1024, pool);
    const b = new RenderedCache(64 * 1024, pool);
    const text = 'z'.repeat(1000);
    for (let i = 0; i < 50; i++) {
      a.set(1, i, 'p', `/a${i}`, '"e"', text);
      b.set(1, i, 'p', `/b${i}`, '"e"', text);
      expect(pool.used).toBeLessThanOrEqual(16 * 1024);
      expect(pool.used).toBe(a.bytes + b.bytes);
    }
    // The pool is full: a new entry is not kept (and is simply rendered again when asked for).
    expect(b.get(49, 'p', '/b49', '"e"')).toBeUndefined();
    a.clear();
    expect(pool.used).toBe(b.bytes);
    b.set(1, 99, 'p', '/b99', '"e"', text);
    expect(b.get(99, 'p', '/b99', '"e"')).toBe(text);
    b.dropCollection(1);
    expect(pool.used).toBe(0);
  });
});
