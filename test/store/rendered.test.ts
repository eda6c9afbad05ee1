/**
 * The open mailbox's rendered-response cache stays inside its byte bound,
 * forgets least recently used entries first, and drops a collection's
 * entries on demand (what every DAV write does).
 */
import { describe, expect, it } from 'vitest';
import { RenderedCache } from '../../node/store/mailbox/rendered.js';

describe('RenderedCache', () => {
  it('never holds more than its bound, forgetting the least recently used first', () => {
    const c = new RenderedCache(64 * 1024);
    const text = 'x'.repeat(1000);
    for (let i = 0; i < 200; i++) {
      c.set(1, `k${i}`, text);
      expect(c.bytes).toBeLessThanOrEqual(64 * 1024);
      if (i >= 1) expect(c.get('k0')).toBe(text); // k0 kept fresh by use
    }
    expect(c.get('k0')).toBe(text);
    expect(c.get('k1')).toBeUndefined();
    expect(c.get('k199')).toBe(text);
    expect(c.size).toBeLessThan(40);
  });

  it('refuses an entry over a quarter of its bound, and holds nothing when the bound is 0', () => {
    const c = new RenderedCache(4000);
    c.set(1, 'big', 'y'.repeat(600));
    expect(c.get('big')).toBeUndefined();
    const off = new RenderedCache(0);
    off.set(1, 'k', 'v');
    expect(off.size).toBe(0);
    expect(off.bytes).toBe(0);
  });

  it('drops one collection and keeps the others; replacing a key does not count it twice', () => {
    const c = new RenderedCache(1024 * 1024);
    c.set(1, 'a', 'one');
    c.set(2, 'b', 'two');
    c.set(1, 'a', 'uno');
    const afterReplace = c.bytes;
    c.dropCollection(1);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('b')).toBe('two');
    expect(c.bytes).toBeLessThan(afterReplace);
    c.clear();
    expect(c.bytes).toBe(0);
  });
});
