/**
 * The README's generated sections (configuration and CLI reference, the
 * deployment guide from docs/deploy.md) are exactly what the schema, the
 * command table and the guide render, so the README cannot drift from the
 * code. Fix a failure with: npx tsx scripts/gen-config-docs.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../node/cli/index.js';
import { OPTION_LIST } from '../../node/config/index.js';
import { deploySection, fillReadme } from '../../scripts/readme.js';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README', () => {
  it('has up-to-date generated sections (npx tsx scripts/gen-config-docs.ts)', () => {
    const deploy = readFileSync(join(root, 'docs', 'deploy.md'), 'utf8');
    expect(readme).toBe(fillReadme(readme, { deploy: () => deploySection(deploy) }));
  });

  it('documents every option and every command', () => {
    for (const o of OPTION_LIST) expect(readme).toContain(`\`${o.env}\``);
    for (const c of COMMANDS) expect(readme).toContain(`### \`haven ${c.name}\``);
  });

  it('gives the quick start and test commands that CI runs', () => {
    expect(readme).toContain('npm install && npm start');
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
    expect(readme).toMatch(/^npm test$/m);
    expect(ci).toMatch(/^npm test$/m);
  });

  it('links only to files that exist', () => {
    for (const [, target] of readme.matchAll(/\]\((?!https?:|#|mailto:)([^)#\s]+)/g)) {
      expect(() => readFileSync(join(root, target)), target).not.toThrow();
    }
  });
});
