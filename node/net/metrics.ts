/**
 * @module node/net/metrics
 * The metrics of the shared net layer: refused connections, peer socket
 * errors, errors nobody caught, work refused by the memory budget, the
 * event loop's lag and the CPU time each request took. Registered on the
 * node's one registry (node/util/metrics), so /metrics shows them.
 */
import { registry } from '../util/metrics.js';

export const netMetrics = {
  refused: registry.counter('haven_connections_refused_total', 'Connections refused at accept, per protocol and reason (per_ip, total, memory).', ['protocol', 'reason']),
  socketErrors: registry.counter('haven_socket_errors_total', 'Socket errors from peers (resets, broken pipes, failed handshakes), per protocol; each closes only its own connection.', ['protocol']),
  unexpected: registry.counter('haven_unexpected_errors_total', 'Errors that reached the process level (uncaughtException, unhandledRejection): logged, counted, and the node keeps serving.', ['kind']),
  budgetRefused: registry.counter('haven_budget_refused_total', 'Work refused with a temporary error because the memory budget was spent, per protocol.', ['protocol']),
  budgetBytes: registry.gauge('haven_budget_reserved_bytes', 'Bytes of client input held in memory right now (literals, DATA) against limits.memoryBudgetBytes.'),
  outputOverflow: registry.counter('haven_output_overflow_total', 'Connections closed because the client stopped reading and unsent output passed its cap, per protocol.', ['protocol']),
  loopLag: registry.gauge('haven_event_loop_lag_seconds', 'Event loop lag: how late a 100 ms timer fired, worst in the last interval.'),
  loopLagMax: registry.gauge('haven_event_loop_lag_max_seconds', 'Longest event loop stall seen since start.'),
  requestCpu: registry.histogram('haven_request_cpu_seconds', 'Process CPU time (user + system) while one request or command ran, per protocol, at most one per protocol every 100 ms (the first always): an upper bound of its own, as concurrent requests overlap.', ['protocol']),
};

/**
 * At most one request per protocol is timed in each SAMPLE_MS (the first
 * always). process.cpuUsage is a getrusage call that sums every thread of the
 * process: two per IMAP command were 6% of the node's CPU under bench
 * imap-accounts, and one in eight SMTP hooks still about 1% under a new
 * connection per message. Sampling by time bounds that cost to a few calls a
 * second however busy the node is, while a quiet node still times every
 * request; the histogram's shape is that of the requests sampled.
 */
export const SAMPLE_MS = 100;
const nextSample = new Map<string, number>();
const noop = (): void => {};

/** Starts a CPU clock; the returned function records the time spent since, for `protocol` (a no-op for requests outside the sample). */
export function cpuClock(protocol: string, now = performance.now()): () => void {
  if (now < (nextSample.get(protocol) ?? -Infinity)) return noop;
  nextSample.set(protocol, now + SAMPLE_MS);
  const start = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(start);
    netMetrics.requestCpu.observe({ protocol }, (d.user + d.system) / 1e6);
  };
}
