// A worker thread's entry when the node runs from its TypeScript source
// (`npm start` through bin/haven.js, vitest, `npm run bench`); the compiled
// dist/ never comes here, its workers start from their .js files directly.
//
// Whether the new thread can already load the TypeScript depends on the
// runtime: Node 20 gives a worker none of the parent's module.register()
// hooks (bin/haven.js registers tsx that way), later versions share them, a
// parent started with `--import tsx` passes that on through execArgv, and
// vitest transforms in-process so its workers get nothing. So: load the
// entry as things are, and only when it cannot be loaded (a .ts file not
// understood, or its `.js` imports not mapped to `.ts`) register tsx here,
// as bin/haven.js does, and load it again under a fresh URL (the failed one
// may be cached). Never registering twice keeps one tsx in the hook chain.
import { workerData } from 'node:worker_threads';

const UNLOADABLE = new Set(['ERR_UNKNOWN_FILE_EXTENSION', 'ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING', 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX']);

try {
  await import(workerData.tsxEntry);
} catch (err) {
  if (!UNLOADABLE.has(err?.code)) throw err;
  const { register } = await import('tsx/esm/api');
  register();
  await import(`${workerData.tsxEntry}?tsx`);
}
