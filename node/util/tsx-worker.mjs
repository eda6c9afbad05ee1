// A worker thread's entry when the node runs from its TypeScript source
// (`npm start` through bin/haven.js, vitest, `npm run bench`): a worker does
// not inherit the parent thread's tsx loader on Node 20, so this registers
// tsx in the worker, as bin/haven.js does in the main thread, and then loads
// the real entry (node/util/worker.ts passes its URL). The compiled dist/
// never comes here: its workers start from their .js files directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.tsxEntry);
