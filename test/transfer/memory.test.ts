/**
 * The import's memory bound (node/transfer/memory.ts): past its slack it
 * runs a full collection, which frees Buffers nothing holds any more; below
 * the slack, or before enough bytes were imported since the last one, it
 * costs nothing. Only in a process that allowed it (the CLI running a job
 * itself): the node never pauses its sessions for one.
 */
import { describe, expect, it } from 'vitest';
import { allowForcedCollections, MemoryBound } from '../../node/transfer/memory.js';

/** 64 MB written, so resident. */
const big = () => Buffer.alloc(64 * 1024 * 1024, 1);

/** Polls `cond` between turns of the event loop until it holds or `ms` pass. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

describe('MemoryBound', () => {
  // First, while this process is still a node's (nothing called allowForcedCollections).
  it('in the node (not allowed): never collects, however far past the slack', () => {
    const m = new MemoryBound(0, 1);
    const held = big();
    m.check(1024 * 1024 * 1024);
    m.check(1024 * 1024 * 1024);
    expect(m.collections).toBe(0);
    expect(held.length).toBe(64 * 1024 * 1024);
  });

  it('past the slack, in the CLI\'s own process, collects: the dead Buffers are freed', async () => {
    allowForcedCollections();
    const m = new MemoryBound(0, 1);
    let held: Buffer | null = big();
    const before = process.memoryUsage().arrayBuffers;
    expect(held.length).toBeGreaterThan(0);
    // Dropped: now garbage, freed only by a collection.
    held = null;
    m.check(1);
    expect(m.collections).toBe(1);
    // V8 frees a collected ArrayBuffer's backing store on a background sweeper
    // thread, so the count drops shortly after gc() returns (under load, a
    // full run of the suite showed it unchanged right after): wait for it.
    const freed = await until(() => process.memoryUsage().arrayBuffers < before - 32 * 1024 * 1024, 10_000);
    expect(freed, `arrayBuffers still ${process.memoryUsage().arrayBuffers} after the collection (was ${before})`).toBe(true);
  });

  it('within the slack, or before enough bytes since the last collection, does nothing', () => {
    allowForcedCollections();
    const roomy = new MemoryBound(1024 * 1024 * 1024 * 1024, 1);
    const held = big();
    roomy.check(10);
    expect(roomy.collections).toBe(0);
    const early = new MemoryBound(0, 100);
    // RSS grows past the start (the slack of 0) but only 10 of 100 bytes were imported.
    held.fill(2);
    const more = big();
    early.check(10);
    expect(early.collections).toBe(0);
    early.check(90);
    expect(early.collections).toBe(1);
    expect(held.length + more.length).toBe(128 * 1024 * 1024);
  });
});
