#!/usr/bin/env node
// The `haven` executable.
//
// A checkout after `npm install` has tsx (a dev dependency): the TypeScript
// runs directly through tsx's loader, registered in this process (no child
// process to forward signals to), so `npm install` is the only set-up step
// and a stale dist/ from an old `npm run build` can never shadow the source.
// A release installed with --omit=dev (the server's cloud-init does that)
// has no tsx and runs the compiled dist/ instead.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Older scripts set HAVEN_FROM_SOURCE=1 to prefer the source, which is now the
// default; it is no config option, so it must not reach the config loader.
delete process.env.HAVEN_FROM_SOURCE;

const root = fileURLToPath(new URL('..', import.meta.url));
const source = `${root}node/cli.ts`;
const built = `${root}dist/node/cli.js`;

let register = null;
if (existsSync(source)) {
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    // no tsx: a production install; use the build
  }
}

if (register) {
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  process.stderr.write('haven: found neither tsx (run `npm install`) nor a build in dist/ (run `npm run build`)\n');
  process.exit(1);
}
