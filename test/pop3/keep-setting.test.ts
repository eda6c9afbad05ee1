/**
 * The per-account POP3 deletion setting end to end: `haven account set
 * --pop3-deletes keep` makes a POP3 DELE hide the message from POP3 only
 * (IMAP still has it); `delete` (the default) removes it for good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPop3, type Pop3Server } from '../../node/pop3/index.js';
import type { Store } from '../../node/store/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { cliHarness, type CliHarness } from '../cli/helpers.js';
import { sampleMessage } from '../helpers/store.js';
import { RawClient, secureContext } from './helpers.js';

let h: CliHarness;
let store: Store;
let pop: Pop3Server;
const PASS = 'keep-setting-password';
beforeAll(async () => {
  h = cliHarness();
  expect((await h.run(['domain', 'add', 'example.org'])).code).toBe(0);
  for (const who of ['keeper', 'deleter']) expect((await h.run(['account', 'add', `${who}@example.org`, '--password', PASS])).code).toBe(0);
});
afterAll(async () => {
  await pop?.close();
  store?.close();
  h.cleanup();
});

describe('haven account set --pop3-deletes', () => {
  it('refuses a bad mode and an empty change, and reports the new setting', async () => {
    expect((await h.run(['account', 'set', 'keeper@example.org', '--pop3-deletes', 'sometimes'])).err[0]).toMatch(/--pop3-deletes takes delete or keep/);
    expect((await h.run(['account', 'set', 'keeper@example.org'])).err[0]).toMatch(/nothing to change/);
    expect((await h.run(['account', 'set', 'nobody@example.org', '--quota', '1G'])).err[0]).toMatch(/no account nobody@example.org/);
    const r = await h.run(['account', 'set', 'keeper@example.org', '--pop3-deletes', 'keep', '--quota', '1G']);
    expect(r.code).toBe(0);
    expect(r.out).toEqual(['keeper@example.org: quota 1.0 GiB, POP3 deletes keep (hidden from POP3 only)']);
  });

  it('keep hides a POP3-deleted message from POP3 only; delete removes it', async () => {
    store = h.openStore();
    pop = await startPop3(
      { store, log: silentLogger, authLimiter: new AuthLimiter({ stepDelayMs: 0 }), tls: { secureContext }, hostname: 'localhost', limits: { allowPlaintextOnLoopback: true } },
      { host: '127.0.0.1', port: 0, implicitTls: false },
    );
    const session = async (who: string) => {
      const c = await RawClient.connect(pop.port);
      expect(await c.login(`${who}@example.org`, PASS)).toMatch(/^\+OK/);
      return c;
    };
    for (const who of ['keeper', 'deleter']) {
      const id = store.directory.getAccount(`${who}@example.org`)!.id;
      await store.deliver(id, sampleMessage({ subject: 'one' }));
      await store.deliver(id, sampleMessage({ subject: 'two' }));
      const c = await session(who);
      expect(await c.cmd('STAT')).toMatch(/^\+OK 2 /);
      expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
      expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
      await c.closed();
      const again = await session(who);
      expect(await again.cmd('STAT')).toMatch(/^\+OK 1 /);
      expect(await again.cmd('QUIT')).toMatch(/^\+OK/);
      // What IMAP (any client of the mailbox) sees.
      const lease = await store.authenticate(`${who}@example.org`, PASS);
      const n = lease.mailbox.messages.uids(lease.mailbox.folders.require('INBOX').id).length;
      lease.release();
      expect(n, who).toBe(who === 'keeper' ? 2 : 1);
    }
  });
});
