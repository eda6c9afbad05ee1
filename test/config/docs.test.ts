/**
 * @module test/config/docs
 * The committed reference and example are exactly what the schema renders,
 * and the example file loads back to the defaults.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, OPTION_LIST, renderConfigDocs, renderExampleYaml } from '../../node/config/index.js';

const docs = join(import.meta.dirname, '..', '..', 'docs');

describe('generated docs', () => {
  it('docs/configuration.md is up to date (npx tsx scripts/gen-config-docs.ts)', () => {
    expect(readFileSync(join(docs, 'configuration.md'), 'utf8')).toBe(renderConfigDocs());
  });

  it('docs/haven.example.yaml is up to date (npx tsx scripts/gen-config-docs.ts)', () => {
    expect(readFileSync(join(docs, 'haven.example.yaml'), 'utf8')).toBe(renderExampleYaml());
  });

  it('lists every option with its variable', () => {
    const md = renderConfigDocs();
    for (const o of OPTION_LIST) expect(md).toContain(`| \`${o.path}\` | \`${o.env}\` |`);
  });

  it('the example file loads to exactly the defaults', () => {
    const fromExample = loadConfig({ env: {}, file: join(docs, 'haven.example.yaml'), cwd: docs });
    expect(fromExample).toEqual(loadConfig({ env: {}, cwd: docs }));
  });
});
