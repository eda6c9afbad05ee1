/**
 * @module test/pop3/sigkill
 * SIGKILL around the UPDATE state: a server in a child process applies a
 * session's DELEs at QUIT; the parent kills it at different moments (right
 * after sending QUIT, a moment later, after the +OK) and reopens the store.
 * Each session's deletions must be all there or all absent — and always all
 * there once the +OK was seen, since +OK is sent only after the commit.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../node/store/index.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';
import { numberedMessage, RawClient } from './helpers.js';

const PER_SESSION = 40;

describe('SIGKILL during UPDATE', () => {
  let t: TestStore;
  let account: Awaited<ReturnType<typeof addAccount>>;
  beforeAll(async () => {
    t = makeTestStore({ keyMode: 'managed' });
    account = await addAccount(t.store);
    t.store.close();
  });
  afterAll(() => t.cleanup());

  /** Opens the store in this process, tops INBOX up to `want` messages, returns their UIDs, closes it. */
  async function prepare(want: number): Promise<number[]> {
    const store = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey, keyMode: 'managed' });
    try {
      const lease = await store.openMailbox(account.account.id);
      try {
        const inbox = lease.mailbox.folders.require('INBOX').id;
        const have = lease.mailbox.messages.uids(inbox).length;
        if (have < want)
          lease.mailbox.messages.appendMany(
            inbox,
            Array.from({ length: want - have }, (_, i) => ({ raw: numberedMessage(20, `kill ${i}`) })),
          );
        return lease.mailbox.messages.uids(inbox);
      } finally {
        lease.release();
      }
    } finally {
      store.close();
    }
  }

  async function startChild() {
    const child = spawn('npx', ['tsx', join(import.meta.dirname, 'fixtures', 'pop3-child.ts')], {
      env: { ...process.env, HAVEN_TEST_DATA_DIR: t.dataDir, HAVEN_TEST_MASTER_KEY: t.masterKey.toString('hex') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) {
      const m = /^READY (\d+) (\d+)$/.exec(line);
      if (m) return { pid: Number(m[1]), port: Number(m[2]), exited };
    }
    throw new Error('the POP3 child exited before it was ready');
  }

  const moments = ['right after QUIT is sent', 'one timer tick after QUIT', 'after the +OK'] as const;

  for (const moment of moments) {
    it(`leaves all or none of the session's deletions when killed ${moment}`, async () => {
      const before = await prepare(PER_SESSION + 5);
      const child = await startChild();
      const c = await RawClient.connect(child.port);
      expect(await c.login(account.address, account.password)).toMatch(/^\+OK maildrop has/);
      // Pipelined DELEs: the replies are read back before QUIT so all marks are in.
      c.write(Array.from({ length: PER_SESSION }, (_, i) => `DELE ${i + 1}\r\n`).join(''));
      for (let i = 0; i < PER_SESSION; i++) expect(await c.line()).toBe(`+OK message ${i + 1} deleted`);
      c.send('QUIT');
      if (moment === 'one timer tick after QUIT') await new Promise((r) => setTimeout(r, 1));
      if (moment === 'after the +OK') expect(await c.line()).toBe(`+OK ${PER_SESSION} messages deleted; goodbye`);
      process.kill(child.pid, 'SIGKILL');
      await child.exited;
      c.destroy();

      const store = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey, keyMode: 'managed' });
      try {
        const lease = await store.openMailbox(account.account.id);
        const after = lease.mailbox.messages.uids(lease.mailbox.folders.require('INBOX').id);
        lease.release();
        const gone = before.filter((u) => !after.includes(u));
        if (moment === 'after the +OK') expect(gone).toEqual(before.slice(0, PER_SESSION));
        else expect([[], before.slice(0, PER_SESSION)]).toContainEqual(gone);
        expect(after).toEqual(before.filter((u) => !gone.includes(u)));
        expect(lease.mailbox.integrityCheck()).toBe('ok');
      } finally {
        store.close();
      }
    });
  }
});
