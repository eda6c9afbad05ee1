/**
 * The admin's per-domain filter (issue 17, item 4) through the edge pages
 * against a real node: a broken script is refused with its line, a good one
 * saved into the node's directory, an empty one removes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp, MemoryKv } from '../../edge/index.js';
import { Client, passwordHash, SECRET, startNode, type RunningNode } from './harness.js';

let node: RunningNode;
let hash: string;
beforeAll(async () => {
  [node, hash] = await Promise.all([startNode(), passwordHash()]);
  node.t.store.directory.addDomain('example.org');
});
afterAll(async () => node.close());

describe('domain filter page', () => {
  it('refuses a broken script with its line, saves a good one, removes it when emptied', async () => {
    const { app } = createEdgeApp({ nodeUrl: node.url, edgeSecret: SECRET, adminPasswordHash: hash, kv: new MemoryKv() });
    const c = new Client(app);
    expect((await c.login()).status).toBe(303);
    expect(await (await c.fetch('/domains/example.org')).text()).toContain('href="/domains/example.org/filter"');

    const bad = await c.submit('/domains/example.org/filter', '/domains/example.org/filter', { source: 'require "fileinto";\nfileinto "x"\n' });
    expect(bad.status).toBe(303);
    expect(await (await c.fetch(bad.headers.get('location')!)).text()).toContain('line 3, column 1');
    expect(node.t.store.directory.sieve.domainScript('example.org', 'before')).toBeNull();

    const src = 'require "fileinto";\nif header :contains "subject" "[ops]" { fileinto "Ops"; }\n';
    const good = await c.submit('/domains/example.org/filter', '/domains/example.org/filter', { source: src });
    expect(await (await c.fetch(good.headers.get('location')!)).text()).toContain('Saved the filter for example.org');
    // A browser may send the text with CRLF line ends; the script is the same either way.
    expect(node.t.store.directory.sieve.domainScript('example.org', 'before')?.replace(/\r\n/g, '\n')).toBe(src);
    expect(await (await c.fetch('/domains/example.org/filter')).text()).toContain('[ops]');

    await c.submit('/domains/example.org/filter', '/domains/example.org/filter', { source: '' });
    expect(node.t.store.directory.sieve.domainScript('example.org', 'before')).toBeNull();
  });
});
