/**
 * The operator sees imports and exports in the admin API (GET
 * /api/v1/transfers, docs/admin-api.md) and on the admin UI's dashboard
 * while they run, with messages, MB, rate and time left (issue 18).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp, MemoryKv } from '../../edge/index.js';
import { cancelJob, startJob } from '../../node/transfer/index.js';
import { Client, passwordHash, SECRET, startNode, type RunningNode } from '../edge/harness.js';
import { addAccount } from '../helpers/store.js';

let node: RunningNode;
let hash: string;
const pw = 'correct horse battery';

beforeAll(async () => {
  [node, hash] = await Promise.all([startNode(), passwordHash()]);
  await addAccount(node.t.store, 'alice@example.test', pw);
});
afterAll(async () => node.close());

describe('import progress for the operator', () => {
  it('is listed by the admin API and shown on the dashboard while it runs', async () => {
    // Throttled to one message a second so it is surely running while we look.
    const job = await startJob(node.t.store, { kind: 'import', address: 'alice@example.test', password: pw, source: { type: 'path', path: join(import.meta.dirname, '..', 'fixtures', 'transfer', 'odd.mboxrd') }, rate: 1 });
    try {
      let list: { id: string; kind: string; address: string; progress: { phase: string; messages: number; totalBytes: number | null } }[] = [];
      for (;;) {
        const res = await node.call('GET', '/api/v1/transfers');
        expect(res.status).toBe(200);
        list = ((await res.json()) as { transfers: typeof list }).transfers;
        if (list[0]?.progress.phase === 'running') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(list[0]).toMatchObject({ id: job.id, kind: 'import', address: 'alice@example.test' });
      expect(list[0].progress.totalBytes).toBeGreaterThan(0);

      const { app } = createEdgeApp({ nodeUrl: node.url, edgeSecret: SECRET, adminPasswordHash: hash, kv: new MemoryKv() });
      const c = new Client(app);
      expect((await c.login()).status).toBe(303);
      const html = await (await c.fetch('/')).text();
      expect(html).toContain('Imports and exports');
      expect(html).toContain('alice@example.test');
      expect(html).toMatch(/\d+ messages, [\d.]+\/[\d.]+ MB, \d+ msg\/s/);
      expect(html).toContain('http-equiv="refresh"');
    } finally {
      cancelJob(node.t.store, job.id);
    }
  });
});
