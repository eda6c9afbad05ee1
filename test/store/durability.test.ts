import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runChild } from '../helpers/child.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';

let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
});
afterEach(() => t.cleanup());

const fixtures = join(import.meta.dirname, 'fixtures');

/** Deterministic pseudo-random delays so a failure can be reproduced. */
function* delays(seed: number, max: number) {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    yield x % max;
  }
}

async function subjectsIn(t: TestStore, address: string, password: string): Promise<string[]> {
  const lease = await t.store.authenticate(address, password);
  try {
    const inbox = lease.mailbox.folders.require('INBOX');
    return lease.mailbox.messages.list(inbox.id).map((m) => lease.mailbox.messages.parsed(m.blobId).envelope.subject ?? '');
  } finally {
    lease.release();
    t.store.lock(lease.account.id);
  }
}

describe('durability under SIGKILL', () => {
  for (const mode of ['mailbox', 'spool'] as const) {
    it(`every acknowledged delivery (${mode}) survives a kill -9 at a random moment`, async () => {
      const { account, address, password } = await addAccount(t.store);
      t.store.close();
      const acked: string[] = [];
      const gen = delays(mode === 'mailbox' ? 7 : 11, 250);
      for (let round = 0; round < 4; round++) {
        const child = runChild(join(fixtures, 'ack-child.ts'), [t.dataDir, t.masterKey.toString('hex'), account.id, address, password, mode]);
        const first = await child.waitFor(() => true);
        expect(first).not.toMatch(/__exit__/);
        await new Promise((r) => setTimeout(r, gen.next().value as number));
        await child.kill();
        acked.push(...child.lines.filter((l) => /^\d+-\d+$/.test(l)));
      }
      t.reopen();
      const stored = new Set(await subjectsIn(t, address, password));
      expect(acked.length).toBeGreaterThan(4);
      for (const id of acked) expect(stored.has(`ack ${id}`), `acknowledged ${id} is missing`).toBe(true);
    });
  }

  it('a kill -9 during a spool drain neither loses nor duplicates a message', async () => {
    const { account, address, password } = await addAccount(t.store);
    t.reopen();
    const n = 400;
    for (let i = 0; i < n; i++) await t.store.deliver(account.id, sampleMessage({ subject: `d${i}`, body: 'y'.repeat(4000) }));
    t.store.close();
    const gen = delays(3, 400);
    for (let round = 0; round < 5; round++) {
      const child = runChild(join(fixtures, 'drain-child.ts'), [t.dataDir, t.masterKey.toString('hex'), address, password]);
      await child.waitFor((l) => l === 'ready' || l.startsWith('__exit__'));
      await new Promise((r) => setTimeout(r, 50 + (gen.next().value as number)));
      await child.kill();
      if (child.lines.includes('drained')) break;
    }
    t.reopen();
    const subjects = await subjectsIn(t, address, password);
    expect(subjects).toEqual(Array.from({ length: n }, (_, i) => `d${i}`));
    expect(t.store.spool.stats(account.id).messages).toBe(0);
  });
});
