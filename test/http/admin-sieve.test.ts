/**
 * The admin API's Sieve endpoints (issue 17, the admin's per-domain rules):
 * a domain script is compiled before it is stored, listed, read and removed;
 * an account's scripts and last delivery error are reported.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addAccount } from '../helpers/store.js';
import { makeTestApp, type TestApp } from './harness.js';

let h: TestApp;
beforeEach(() => {
  h = makeTestApp();
});
afterEach(() => h.cleanup());

describe('/api/v1 Sieve', () => {
  it('stores a domain script only when it compiles, lists, reads and removes it', async () => {
    h.t.store.directory.addDomain('example.org');
    const bad = await h.call('PUT', '/api/v1/domains/example.org/sieve/before', { source: 'require "fileinto";\nfileinto "x"\n' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('line 3, column 1');
    const src = 'require "fileinto"; if header :contains "subject" "[ops]" { fileinto "Ops"; }';
    expect((await h.call('PUT', '/api/v1/domains/example.org/sieve/before', { source: src })).status).toBe(200);
    expect(h.t.store.directory.sieve.domainScript('example.org', 'before')).toBe(src);
    expect(await (await h.call('GET', '/api/v1/domains/example.org/sieve')).json()).toEqual({ scripts: [{ name: 'before', updatedAt: expect.any(String) }] });
    expect(await (await h.call('GET', '/api/v1/domains/example.org/sieve/before')).json()).toEqual({ name: 'before', source: src });
    expect((await h.call('DELETE', '/api/v1/domains/example.org/sieve/before')).status).toBe(204);
    expect((await h.call('GET', '/api/v1/domains/example.org/sieve/before')).status).toBe(404);
    expect((await h.call('PUT', '/api/v1/domains/nope.org/sieve/before', { source: 'keep;' })).status).toBe(404);
  });

  it('reports an account\'s scripts and last error', async () => {
    const { account } = await addAccount(h.t.store, 'ann@example.org');
    h.t.store.directory.sieve.put(account.id, 'main', 'keep;');
    h.t.store.directory.sieve.setActive(account.id, 'main');
    h.t.store.directory.sieve.setError(account.id, 'script "main": boom');
    expect(await (await h.call('GET', '/api/v1/accounts/ann@example.org/sieve')).json()).toEqual({
      scripts: [{ name: 'main', active: true, updatedAt: expect.any(String) }],
      lastError: { message: 'script "main": boom', at: expect.any(String) },
    });
  });
});
