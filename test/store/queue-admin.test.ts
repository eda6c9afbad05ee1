/**
 * The queue's admin surface: list, retry now, delete, depth. The runner's
 * own use of the queue is covered by the SMTP outbound suites.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../node/store/queue.js';
import { makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';

let t: TestStore;
let q: Queue;
beforeEach(() => {
  t = makeTestStore();
  q = new Queue(t.store.directory.path, t.store.directory.db);
});
afterEach(() => t.cleanup());

describe('queue admin', () => {
  it('lists messages oldest first, reports depth and the oldest queued message', () => {
    expect(q.depth()).toEqual({ queued: 0, oldestAt: null });
    const a = q.enqueue({ accountId: null, mailFrom: 'a@x.test', raw: sampleMessage() }, [{ rcpt: 'b@y.test' }, { rcpt: 'c@z.test' }], 1000);
    const b = q.enqueue({ accountId: null, mailFrom: 'd@x.test', raw: sampleMessage() }, [{ rcpt: 'e@y.test' }], 2000);
    expect(q.list().map((m) => m.id)).toEqual([a, b]);
    expect(q.list(1).map((m) => m.id)).toEqual([a]);
    expect(q.depth()).toEqual({ queued: 3, oldestAt: 1000 });
    const [r1] = q.recipients(a);
    q.record([{ id: r1.id, outcome: 'sent', response: '250 ok' }]);
    expect(q.depth()).toEqual({ queued: 2, oldestAt: 1000 });
  });

  it('retry makes queued recipients due now and wakes the runner; finished ones stay finished', () => {
    const id = q.enqueue({ accountId: null, mailFrom: 'a@x.test', raw: sampleMessage() }, [{ rcpt: 'b@y.test' }, { rcpt: 'c@y.test' }], 1000);
    const [r1, r2] = q.recipients(id);
    q.record([
      { id: r1.id, outcome: 'deferred', response: '451 later', nextAttemptAt: 10_000_000 },
      { id: r2.id, outcome: 'failed', response: '550 no' },
    ]);
    let woke = 0;
    q.onEnqueue(() => woke++);
    expect(q.due(5000)).toEqual([]);
    expect(q.retryNow(id, 5000)).toBe(1);
    expect(woke).toBe(1);
    expect(q.due(5000).map((r) => r.id)).toEqual([r1.id]);
    expect(q.recipient(r2.id)!.state).toBe('failed');
    expect(q.retryNow('nope', 5000)).toBe(0);
    expect(woke).toBe(1);
  });

  it('remove deletes a message with its recipients, whatever their state', () => {
    const id = q.enqueue({ accountId: null, mailFrom: 'a@x.test', raw: sampleMessage() }, [{ rcpt: 'b@y.test' }]);
    expect(q.remove(id)).toBe(true);
    expect(q.message(id)).toBeNull();
    expect(q.recipients(id)).toEqual([]);
    expect(q.remove(id)).toBe(false);
    expect(q.depth().queued).toBe(0);
  });
});
