/**
 * @module node/net
 * The shared net layer every listener uses: accept with its error handling
 * and connection limits (accept.ts), the I/O of a line protocol with
 * STARTTLS (line-connection.ts), the process-wide memory budget
 * (budget.ts), the event-loop watchdog (watchdog.ts) and the process-level
 * policy for errors nobody caught (process-policy.ts).
 */
export { guard, IpGate, listenOn, normalizeIp, serve, sharedGate, type Refusal, type ServeOptions } from './accept.js';
export { configureMemoryBudget, DEFAULT_BUDGET, memoryBudget, MemoryBudget, type BudgetOptions } from './budget.js';
export { cpuClock, netMetrics } from './metrics.js';
export { LineConnection, type LineConnectionOptions, type SessionIo } from './line-connection.js';
export { installProcessPolicy } from './process-policy.js';
export { DEFAULT_PROBE_LIMITS, ProbeLimiter, type ProbeLimits } from './probe-limiter.js';
export { DEFAULT_WATCHDOG, LoopWatchdog, type WatchdogOptions } from './watchdog.js';
