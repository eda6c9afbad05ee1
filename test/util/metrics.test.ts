/**
 * The metrics registry's label keys (node/util/metrics) and the sampled CPU
 * clock (node/net/metrics), below the /metrics endpoint that
 * test/http/metrics.test.ts parses: every distinct label set is its own
 * series, a wrong label set is refused whatever series exist already, and
 * the CPU clock times the first request and then at most one per interval.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from '../../node/util/metrics.js';
import { cpuClock, netMetrics, SAMPLE_MS } from '../../node/net/metrics.js';

describe('label sets', () => {
  it('keeps one series per distinct label set, for none, one and several labels', () => {
    const r = new Registry();
    const none = r.counter('t_none_total', 'no labels');
    const one = r.counter('t_one_total', 'one label', ['protocol']);
    const two = r.counter('t_two_total', 'two labels', ['a', 'b']);
    none.inc();
    none.inc(undefined, 2);
    one.inc({ protocol: 'smtp' });
    one.inc({ protocol: 'imap' }, 3);
    one.inc({ protocol: 'smtp' });
    // Values that would collide under a naive join stay apart.
    two.inc({ a: 'x","y', b: 'z' });
    two.inc({ a: 'x', b: 'y","z' }, 5);
    expect(none.get()).toBe(3);
    expect(one.get({ protocol: 'smtp' })).toBe(2);
    expect(one.get({ protocol: 'imap' })).toBe(3);
    expect(two.get({ a: 'x","y', b: 'z' })).toBe(1);
    expect(two.get({ a: 'x', b: 'y","z' })).toBe(5);
    const text = r.render();
    expect(text).toContain('t_none_total 3\n');
    expect(text).toContain('t_one_total{protocol="smtp"} 2\n');
    expect(text).toContain('t_two_total{a="x\\",\\"y",b="z"} 1\n');
    expect(text).toContain('t_two_total{a="x",b="y\\",\\"z"} 5\n');
  });

  it('refuses a missing or an undeclared label, also once the series exists', () => {
    const r = new Registry();
    const c = r.counter('t_checked_total', 'checked', ['protocol']);
    const g = r.gauge('t_gauge', 'gauge', ['kind']);
    const h = r.histogram('t_hist_seconds', 'histogram', ['protocol']);
    c.inc({ protocol: 'smtp' });
    g.set({ kind: 'a' }, 1);
    h.observe({ protocol: 'smtp' }, 0.5);
    expect(() => c.inc()).toThrow(/needs label protocol/);
    expect(() => c.inc({ protocol: 'smtp', extra: 'x' })).toThrow(/has no label extra/);
    expect(() => c.inc({ other: 'smtp' } as never)).toThrow(/needs label protocol/);
    expect(() => g.set({ kind: 'a', more: 'b' }, 2)).toThrow(/has no label more/);
    expect(() => h.observe({}, 1)).toThrow(/needs label protocol/);
    expect(() => r.counter('t_bare_total', 'no labels').inc({ protocol: 'smtp' })).toThrow(/has no label protocol/);
    expect(c.get({ protocol: 'smtp' })).toBe(1);
    expect(g.get({ kind: 'a' })).toBe(1);
    expect(h.count({ protocol: 'smtp' })).toBe(1);
  });
});

describe('CPU clock sampling', () => {
  it('times the first request, then at most one per SAMPLE_MS for each protocol', () => {
    const count = (protocol: string) => netMetrics.requestCpu.count({ protocol });
    const t0 = 1_000_000;
    cpuClock('t-one', t0)();
    expect(count('t-one')).toBe(1);
    cpuClock('t-one', t0 + 1)();
    cpuClock('t-one', t0 + SAMPLE_MS - 1)();
    expect(count('t-one')).toBe(1);
    // Another protocol has its own interval.
    cpuClock('t-two', t0 + 1)();
    expect(count('t-two')).toBe(1);
    cpuClock('t-one', t0 + SAMPLE_MS)();
    expect(count('t-one')).toBe(2);
  });
});
