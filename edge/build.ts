/**
 * @module edge/build
 * Bundles the Worker (edge/worker.ts) into one ES module for workerd:
 * browser-style package resolution, no Node built-ins, JSX from hono/jsx.
 *
 *     npx tsx edge/build.ts [out.js]      # default dist/edge/worker.js
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WORKER_ENTRY = resolve(REPO_ROOT, 'edge/worker.ts');

export async function buildWorker(entry: string = WORKER_ENTRY): Promise<string> {
  const out = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    tsconfig: resolve(REPO_ROOT, 'tsconfig.json'),
    jsx: 'automatic',
    jsxImportSource: 'hono/jsx',
    logLevel: 'silent',
    legalComments: 'none',
    minify: false,
  });
  const js = out.outputFiles[0]?.text;
  if (!js) throw new Error(`esbuild produced no output for ${entry}`);
  return js;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outFile = resolve(process.argv[2] ?? resolve(REPO_ROOT, 'dist/edge/worker.js'));
  const js = await buildWorker();
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, js);
  console.log(`wrote ${outFile} (${(js.length / 1024).toFixed(0)} KB)`);
}
