/**
 * Durability: the MX runs in a child node process; the test sends a burst of
 * messages over several connections, records every 250, kills the process
 * with SIGKILL mid-burst (and checks it is gone), reopens the store and finds
 * every acknowledged message. Once with the mailboxes locked (mail is sealed
 * into the spool, drained when the owner logs in) and once with them open
 * (mail goes through the group-commit batcher into the mailbox).
 */
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runChild } from '../helpers/child.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';
import { connectionRefused } from '../helpers/ports.js';

const PW = 'correct horse battery';
const USERS = ['alice@example.test', 'bob@example.test'];
let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
});
afterEach(() => t.cleanup());

async function burstThenKill(unlocked: boolean): Promise<void> {
  for (const u of USERS) await addAccount(t.store, u, PW);
  t.store.close();
  const args = [t.dataDir, t.masterKey.toString('hex'), ...(unlocked ? [PW, ...USERS] : [])];
  const child = runChild(join(import.meta.dirname, 'fixtures', 'mx-child.ts'), args);
  const line = await child.waitFor((l) => l.startsWith('PORT ') || l.startsWith('__exit__'));
  expect(line).toMatch(/^PORT \d+ PID \d+$/);
  const [, port, pid] = /^PORT (\d+) PID (\d+)$/.exec(line)!.map(Number);
  // The process we kill is the one that serves SMTP (not a wrapper around it).
  expect(pid).toBe(child.proc.pid);

  const acked: string[] = [];
  const KILL_AFTER = 60;
  let killed = false;
  let killedAt = 0;
  const worker = async (w: number) => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true, pool: false });
    for (let i = 0; ; i++) {
      if (killed) return;
      const marker = `durable-${w}-${i}`;
      try {
        const info = await transport.sendMail({
          envelope: { from: 'someone@sender.test', to: [USERS[w % 2]] },
          raw: sampleMessage({ from: 'someone@sender.test', body: marker }),
        });
        if (/^250 /.test(info.response)) acked.push(marker);
      } catch {
        return; // the node died under us
      }
      if (acked.length >= KILL_AFTER && !killed) {
        killed = true;
        killedAt = acked.length;
        await child.kill();
      }
    }
  };
  await Promise.all([0, 1, 2, 3, 4, 5].map(worker));
  await child.kill();
  expect(killed).toBe(true);
  expect(child.proc.signalCode).toBe('SIGKILL');
  expect(await connectionRefused(port)).toBe(true);
  // Other sessions were mid-transaction when the kill came; none of them got a 250 after it.
  expect(acked.length).toBeLessThanOrEqual(killedAt + 6);

  const store = t.reopen();
  const found = new Set<string>();
  for (const address of USERS) {
    const lease = await store.authenticate(address, PW);
    const inbox = lease.mailbox.folders.require('INBOX');
    for (const m of lease.mailbox.messages.list(inbox.id)) {
      const hit = /durable-\d+-\d+/.exec(lease.mailbox.messages.raw(m.blobId).toString());
      if (hit) found.add(hit[0]);
    }
    lease.release();
  }
  expect(acked.filter((m) => !found.has(m))).toEqual([]);
}

it('loses no acknowledged message sealed for locked mailboxes when the node is killed with SIGKILL', () => burstThenKill(false), 60_000);

it('loses no acknowledged message group-committed into open mailboxes when the node is killed with SIGKILL', () => burstThenKill(true), 60_000);
