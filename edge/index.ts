/**
 * @module edge
 * The edge: admin UI, status and probe, mail client set-up, as one Hono app
 * (`createEdgeApp`) that runs as a Cloudflare Worker (edge/worker.ts) or in
 * Node next to a local node (edge/node.ts).
 */
export { createEdgeApp, type EdgeApp } from './app.js';
export { clientPorts, type ClientPorts, type EdgeDeps } from './context.js';
export { MemoryKv, type EdgeKv } from './kv.js';
export { hashPassword, verifyPassword, PBKDF2_ITERATIONS } from './auth/password.js';
export { createDohChecker, CLOUDFLARE_DOH, type DnsChecker } from './dns-check.js';
export { runProbe, readProbeState, MAX_HISTORY, DOWN_AFTER, type ProbeRecord } from './probe.js';
export { NodeApi, NodeApiError, NodeUnreachableError } from './node-api.js';
