/**
 * @module node/util/worker
 * Starting a worker thread from a module next to the caller, wherever the
 * node runs: from the compiled dist/ the entry is its `.js` file; from the
 * TypeScript source (tsx, vitest) it is the `.ts` file, loaded through
 * tsx-worker.mjs, which registers tsx in the new thread first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** True when `moduleUrl` (a caller's import.meta.url) is a TypeScript source file rather than compiled output. */
export function fromSource(moduleUrl: string): boolean {
  return /\.[cm]?ts$/.test(new URL(moduleUrl).pathname);
}

/**
 * A worker running `name` (a path relative to `moduleUrl`, without its
 * extension), e.g. `startWorker(import.meta.url, './verify/worker', …)`.
 */
export function startWorker(moduleUrl: string, name: string, options: Omit<WorkerOptions, 'workerData'> = {}): Worker {
  if (!fromSource(moduleUrl)) return new Worker(new URL(`${name}.js`, moduleUrl), options);
  const tsxEntry = new URL(`${name}.ts`, moduleUrl).href;
  return new Worker(new URL('./tsx-worker.mjs', import.meta.url), { ...options, workerData: { tsxEntry } });
}
