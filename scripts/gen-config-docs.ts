/**
 * @module scripts/gen-config-docs
 * Writes the generated reference text: docs/configuration.md and
 * docs/haven.example.yaml from the config schema, and the configuration and
 * CLI reference sections of README.md (between `<!-- config -->` /
 * `<!-- cli -->` markers and their `<!-- /… -->` ends) from the schema and
 * the command table. Run after changing either:
 *   npx tsx scripts/gen-config-docs.ts
 * (`--check` exits 1 instead of writing when the committed files differ.)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs, renderExampleYaml } from '../node/config/index.js';
import { deploySection, fillReadme } from './readme.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const docs = join(root, 'docs');
const readmePath = join(root, 'README.md');
const files: [string, string][] = [
  [join(docs, 'configuration.md'), renderConfigDocs()],
  [join(docs, 'haven.example.yaml'), renderExampleYaml()],
  [
    readmePath,
    fillReadme(readFileSync(readmePath, 'utf8'), {
      deploy: () => deploySection(readFileSync(join(docs, 'deploy.md'), 'utf8')),
    }),
  ],
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
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
process.exit(stale ? 1 : 0);
