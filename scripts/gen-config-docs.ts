/**
 * @module scripts/gen-config-docs
 * Writes docs/configuration.md and docs/haven.example.yaml from the config
 * schema. Run after changing node/config/schema.ts:
 *   npx tsx scripts/gen-config-docs.ts
 * (`--check` exits 1 instead of writing when the committed files differ.)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs, renderExampleYaml } from '../node/config/index.js';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs');
const files: [string, string][] = [
  [join(docs, 'configuration.md'), renderConfigDocs()],
  [join(docs, 'haven.example.yaml'), renderExampleYaml()],
];
const check = process.argv.includes('--check');
let stale = 0;
for (const [path, text] of files) {
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (check) {
    console.error(`${path} is out of date: run npx tsx scripts/gen-config-docs.ts`);
    stale++;
  } else {
    mkdirSync(docs, { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
process.exit(stale ? 1 : 0);
