/**
 * The watchdog (issue 21): event-loop lag and per-request CPU time are on
 * /metrics, and /health turns unhealthy when the loop has stalled, so the
 * edge's outside probe sees it. The stall here is the whole node process
 * stopped (SIGSTOP) for 3 s: to the event loop that is indistinguishable
 * from one request computing for 3 s without yielding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHealth, startHostileNode, stillServing, type HostileNode } from './harness.js';

let h: HostileNode;
beforeAll(async () => {
  h = await startHostileNode({ limits: { maxEventLoopLagMs: 1000 } });
});
afterAll(async () => h?.close());

describe('watchdog', () => {
  it('exports the loop lag and the CPU time of requests per protocol', async () => {
    // Not judged by /health here: on a loaded runner the warm-up itself may have been a stall.
    await stillServing(h, undefined, undefined, { judgeHealth: false });
    // Gauges are refreshed once a second.
    await new Promise((r) => setTimeout(r, 1100));
    const lag = await h.metric('haven_event_loop_lag_seconds');
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(0.5);
    for (const protocol of ['imap', 'https']) expect(await h.metric('haven_request_cpu_seconds_count', { protocol }), protocol).toBeGreaterThan(0);
    const health = await getHealth(h);
    expect(health.body.eventLoop).toMatchObject({ lagMs: expect.any(Number), maxLagMs: expect.any(Number) });
  });

  it('reports unhealthy (503) after the loop stalled past limits.maxEventLoopLagMs (1 s), with how long', async () => {
    process.kill(h.node.pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 3000));
    process.kill(h.node.pid, 'SIGCONT');
    // /health results are reused for 2 s; the first fresh one judges the stall.
    await new Promise((r) => setTimeout(r, 2100));
    const health = await getHealth(h);
    expect(health.status).toBe(503);
    expect(health.body.ok).toBe(false);
    const loop = health.body.eventLoop as { ok: boolean; lastStallMs: number; maxLagMs: number };
    expect(loop.ok).toBe(false);
    // The latest stall is this one, whatever the machine did before.
    expect(loop.lastStallMs).toBeGreaterThanOrEqual(2800);
    expect(await h.metric('haven_event_loop_lag_max_seconds')).toBeGreaterThanOrEqual(2.8);
  });
});
