/**
 * Durability: the MX runs in a child process; the test sends a burst of
 * messages over several connections, records every 250, kills the child
 * with SIGKILL mid-burst, reopens the store and finds every acknowledged
 * message (the owner logs in, which drains the sealed spool where mail for
 * a locked zero-access mailbox lands).
 */
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, expect, it } from 'vitest';
import { runChild } from '../helpers/child.js';
import { addAccount, makeTestStore, sampleMessage } from '../helpers/store.js';

const t = makeTestStore();
afterAll(() => t.cleanup());

it('loses no message that got a 250 when the node is killed with SIGKILL', async () => {
  await addAccount(t.store, 'alice@example.test', 'correct horse battery');
  await addAccount(t.store, 'bob@example.test', 'correct horse battery');
  t.store.close();
  const child = runChild(join(import.meta.dirname, 'fixtures', 'mx-child.ts'), [t.dataDir, t.masterKey.toString('hex')]);
  const line = await child.waitFor((l) => l.startsWith('PORT ') || l.startsWith('__exit__'));
  expect(line).toMatch(/^PORT \d+$/);
  const port = Number(line.split(' ')[1]);

  const acked: string[] = [];
  let attempted = 0;
  const KILL_AFTER = 60;
  let killed = false;
  const worker = async (w: number) => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true, pool: false });
    for (let i = 0; ; i++) {
      if (killed) return;
      const marker = `durable-${w}-${i}`;
      attempted++;
      try {
        const info = await transport.sendMail({
          envelope: { from: 'someone@sender.test', to: [w % 2 ? 'alice@example.test' : 'bob@example.test'] },
          raw: sampleMessage({ from: 'someone@sender.test', body: marker }),
        });
        if (/^250 /.test(info.response)) acked.push(marker);
      } catch {
        return; // the node died under us
      }
      if (acked.length >= KILL_AFTER && !killed) {
        killed = true;
        await child.kill();
      }
    }
  };
  await Promise.all([0, 1, 2, 3, 4, 5].map(worker));
  await child.kill();
  expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER);
  expect(killed).toBe(true);
  expect(attempted).toBeGreaterThanOrEqual(acked.length);

  const store = t.reopen();
  const found = new Set<string>();
  for (const address of ['alice@example.test', 'bob@example.test']) {
    const lease = await store.authenticate(address, 'correct horse battery');
    const inbox = lease.mailbox.folders.require('INBOX');
    for (const m of lease.mailbox.messages.list(inbox.id)) {
      const hit = /durable-\d+-\d+/.exec(lease.mailbox.messages.raw(m.blobId).toString());
      if (hit) found.add(hit[0]);
    }
    lease.release();
  }
  const lost = acked.filter((m) => !found.has(m));
  expect(lost).toEqual([]);
}, 60_000);
