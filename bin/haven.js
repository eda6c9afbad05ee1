#!/usr/bin/env node
// The `haven` executable. A release (npm install --omit=dev, as the server's
// cloud-init does) ships the compiled dist/ and has no tsx, so dist wins when
// it is there. A checkout runs the TypeScript directly through tsx's loader,
// registered in this process (no child to forward signals to), so
// `npm install` is the only set-up step and edits need no rebuild.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = `${root}dist/node/cli.js`;

// HAVEN_FROM_SOURCE=1 runs the TypeScript even when dist/ exists (development, tests).
// It is not a config option, so it is removed before the config sees the environment.
const fromSource = process.env.HAVEN_FROM_SOURCE !== undefined;
delete process.env.HAVEN_FROM_SOURCE;

if (existsSync(built) && !fromSource) {
  await import(pathToFileURL(built).href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('haven: neither dist/ (run `npm run build`) nor tsx (run `npm install`) is available\n');
    process.exit(1);
  }
  register();
  await import(pathToFileURL(`${root}node/cli.ts`).href);
}
