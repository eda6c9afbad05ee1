/**
 * @module node/dav/reports/slices
 * Cooperative slicing for loops over many calendar objects: after
 * SLICE_MS of synchronous work the loop yields (setImmediate) so that
 * other sessions' I/O, IMAP logins and /health run in between.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

export const SLICE_MS = 20;

export class Slicer {
  private since = performance.now();

  /** Whether tick would yield now: a loop over many objects awaits only then (an await per object costs a microtask each). */
  due(): boolean {
    return performance.now() - this.since >= SLICE_MS;
  }

  async tick(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    await yieldToLoop();
    this.since = performance.now();
  }
}
