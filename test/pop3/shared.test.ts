/**
 * POP3 with the rest of the node: failed logins on SMTP submission, IMAP
 * and POP3 count toward one lockout; a POP3 login drains the sealed spool;
 * UIDLs survive a wipe of the data directory and a restore from the replica,
 * and a UIDL given out before the restore is never reused after it.
 */
import { rmSync } from 'node:fs';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImap } from '../../node/imap/index.js';
import { startPop3 } from '../../node/pop3/index.js';
import { replicate, restore } from '../../node/replication/index.js';
import { startSmtp } from '../../node/smtp/index.js';
import { Store } from '../../node/store/index.js';
import { silentLogger } from '../../node/util/log.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, testTls } from '../helpers/store.js';
import { Raw } from '../imap/helpers.js';
import { tempDir } from '../replication/helpers.js';
import { baseDeps, client } from '../smtp/harness.js';
import { numberedMessage, RawClient, secureContext, startFixture, type Pop3Fixture } from './helpers.js';

let f: Pop3Fixture;
let dns: TestDns;
beforeAll(async () => {
  f = await startFixture({ limiter: { maxFailures: 3, lockoutMs: 60_000 } });
  dns = await startTestDns();
});
afterAll(async () => {
  await dns.close();
  await f.close();
});

async function pop3Login(port: number, user: string, pass: string): Promise<{ c: RawClient; reply: string }> {
  const c = await RawClient.connect(port);
  await c.line();
  await c.cmd(`USER ${user}`);
  return { c, reply: await c.cmd(`PASS ${pass}`) };
}

describe('one lockout for every protocol', () => {
  it('a failure each on SMTP submission, IMAP and POP3 locks the account out of all three', async () => {
    const { key, cert } = testTls();
    const ctx = tls.createSecureContext({ key, cert });
    const imap = await startImap(
      { store: f.t.store, log: silentLogger, authLimiter: f.limiter, tls: { secureContext: () => ctx }, hostname: 'localhost', allowPlaintextOnLoopback: true },
      { host: '127.0.0.1', port: 0, implicitTls: false },
    );
    const smtp = await startSmtp(baseDeps(f.t.store, dns, { authLimiter: f.limiter }), { host: '127.0.0.1', port: 0, implicitTls: true, mode: 'submission' });
    try {
      await expect(client(smtp.port, { secure: true, auth: { user: f.address, pass: 'wrong smtp password' } }).verify()).rejects.toMatchObject({ responseCode: 535 });
      const i = await Raw.connect(imap.port);
      expect(await i.cmd('a', `LOGIN ${f.address} "wrong imap password"`)).toMatch(/^a NO \[AUTHENTICATIONFAILED\]/);
      const p = await pop3Login(f.plain.port, f.address, 'wrong pop3 password');
      expect(p.reply).toMatch(/^-ERR \[AUTH\]/);
      p.c.destroy();

      // Three failures in all: now even the right password is refused everywhere.
      const p2 = await pop3Login(f.plain.port, f.address, f.password);
      expect(p2.reply).toMatch(/^-ERR \[LOGIN-DELAY\] too many failed logins/);
      p2.c.destroy();
      expect(await i.cmd('b', `LOGIN ${f.address} "${f.password}"`)).toMatch(/^b NO \[UNAVAILABLE\] too many failed logins/);
      i.close();
      await expect(client(smtp.port, { secure: true, auth: { user: f.address, pass: f.password } }).verify()).rejects.toMatchObject({ responseCode: 454 });
    } finally {
      await imap.close();
      await smtp.close();
      f.limiter.succeed('127.0.0.1', f.address);
    }
  });
});

describe('sealed spool', () => {
  it('a POP3 login moves mail that arrived while the mailbox was locked into the maildrop, in order', async () => {
    const who = 'sealed@example.test';
    const pass = 'sealed password long enough';
    const { account } = await f.t.store.createAccount(who, pass, { keyMode: 'zero-access' });
    for (const n of [1, 2]) expect((await f.t.store.deliver(account.id, sampleMessage({ subject: `sealed ${n}`, to: who }))).where).toBe('spool');
    const { c, reply } = await pop3Login(f.plain.port, who, pass);
    expect(reply).toMatch(/^\+OK/);
    expect(f.t.store.spool.stats(account.id).messages).toBe(0);
    expect(await c.cmd('STAT')).toMatch(/^\+OK 2 \d+$/);
    for (const n of [1, 2]) expect((await c.multiCmd(`RETR ${n}`)).body.toString()).toContain(`Subject: sealed ${n}`);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  });
});

describe('UIDL across a restore', () => {
  it('a restored node gives the same UIDLs and never reuses one', async () => {
    const t = makeTestStore({ keyMode: 'managed' });
    const replica = tempDir('pop3-replica');
    const url = `file://${replica}`;
    const rep = replicate({ url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    let store = t.reopen();
    const deps = (s: Store) => ({ store: s, log: silentLogger, authLimiter: f.limiter, tls: { secureContext }, hostname: 'localhost', limits: { allowPlaintextOnLoopback: true } });
    try {
      const acct = await addAccount(store);
      for (const n of [1, 2, 3]) await store.deliver(acct.account.id, numberedMessage(n));
      let pop = await startPop3(deps(store), { host: '127.0.0.1', port: 0, implicitTls: false });
      const a = await pop3Login(pop.port, acct.address, acct.password);
      const before = (await a.c.lines('UIDL')).map((l) => l.split(' ')[1]);
      expect(await a.c.cmd('DELE 3')).toMatch(/^\+OK/);
      expect(await a.c.cmd('QUIT')).toMatch(/^\+OK/);
      await pop.close();

      await rep.flush();
      store.close();
      await rep.stop();
      rmSync(t.dataDir, { recursive: true, force: true });
      await restore({ target: url, into: t.dataDir, masterKey: t.masterKey });
      store = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey, keyMode: 'managed' });
      t.store = store;

      await store.deliver(acct.account.id, numberedMessage(4));
      pop = await startPop3(deps(store), { host: '127.0.0.1', port: 0, implicitTls: false });
      const b = await pop3Login(pop.port, acct.address, acct.password);
      const after = (await b.c.lines('UIDL')).map((l) => l.split(' ')[1]);
      expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
      expect(after).toHaveLength(3);
      // The new message's UIDL is not the deleted one's, nor any other given out before.
      expect(before).not.toContain(after[2]);
      expect(await b.c.cmd('QUIT')).toMatch(/^\+OK/);
      await pop.close();
    } finally {
      t.cleanup();
      rmSync(replica, { recursive: true, force: true });
    }
  });
});
