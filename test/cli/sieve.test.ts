/**
 * `haven sieve …` against a real data directory: a domain script is checked
 * before it is stored (the error names its line), listed, removed; an
 * account's scripts and last delivery error are shown.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliHarness, type CliHarness } from './helpers.js';

let h: CliHarness;
beforeEach(() => {
  h = cliHarness();
});
afterEach(() => h.cleanup());

describe('haven sieve', () => {
  it('stores, lists and removes a domain script; refuses a broken one with its line', async () => {
    expect((await h.run(['domain', 'add', 'example.org'])).code).toBe(0);
    const good = join(h.dataDir, '..', 'before.sieve');
    writeFileSync(good, 'require "fileinto";\nif header :contains "subject" "[ops]" { fileinto "Ops"; }\n');
    const bad = join(h.dataDir, '..', 'bad.sieve');
    writeFileSync(bad, 'require "fileinto";\nfileinto "x"\n');

    const r = await h.run(['sieve', 'domain-set', 'example.org', 'before', bad]);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain('line 3, column 1');

    expect((await h.run(['sieve', 'domain-set', 'example.org', 'before', good])).out.join('\n')).toContain('runs before every account');
    const store = h.openStore();
    try {
      expect(store.directory.sieve.domainScript('example.org', 'before')).toContain('[ops]');
    } finally {
      store.close();
    }
    expect((await h.run(['sieve', 'domain-list', 'example.org', '--json'])).out.join('')).toMatch(/^\[\{"name":"before","updatedAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\}\]$/);
    expect((await h.run(['sieve', 'domain-remove', 'example.org', 'before'])).code).toBe(0);
    expect((await h.run(['sieve', 'domain-list', 'example.org'])).out.join('\n')).toContain('no scripts for example.org');
  });

  it('shows an account\'s scripts and its last error', async () => {
    await h.run(['domain', 'add', 'example.org']);
    expect((await h.run(['account', 'add', 'ann@example.org', '--password', 'correct horse battery'])).code).toBe(0);
    const store = h.openStore();
    try {
      const id = store.directory.getAccount('ann@example.org')!.id;
      store.directory.sieve.put(id, 'main', 'keep;');
      store.directory.sieve.setActive(id, 'main');
      store.directory.sieve.setError(id, 'script "main": included script "x" does not exist');
    } finally {
      store.close();
    }
    const out = (await h.run(['sieve', 'status', 'ann@example.org'])).out.join('\n');
    expect(out).toMatch(/^main\tACTIVE$/m);
    expect(out).toMatch(/^last error .*: script "main": included script "x" does not exist$/m);
  });
});
