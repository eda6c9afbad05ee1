/**
 * @module test/pop3/update
 * The UPDATE-state rule and the maildrop's life across sessions: DELE
 * applies only at QUIT, a dropped connection deletes nothing, one session per
 * maildrop (IN-USE), IMAP sees POP3's deletions, keep mode only hides, and
 * UIDLs hold across reconnects and a store reopen.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { numberedMessage, RawClient, startFixture, type Pop3Fixture } from './helpers.js';

describe('UPDATE state and the maildrop', () => {
  let f: Pop3Fixture;
  beforeEach(async () => {
    f = await startFixture();
  });
  afterEach(() => f.close());

  async function inboxUids(): Promise<number[]> {
    const lease = await f.t.store.openMailbox(f.accountId);
    try {
      return lease.mailbox.messages.list(lease.mailbox.folders.require('INBOX').id).map((m) => m.uid);
    } finally {
      lease.release();
    }
  }

  it('a dropped connection after DELE deletes nothing, and frees the maildrop', async () => {
    const uids = await f.deliver([numberedMessage(1), numberedMessage(2), numberedMessage(3)]);
    const c = await RawClient.connect(f.plain.port);
    expect(await c.login(f.address, f.password)).toMatch(/^\+OK maildrop has 3/);
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.cmd('DELE 2')).toMatch(/^\+OK/);
    c.destroy();
    await c.closed();
    // The next login succeeds only once the server noticed the drop and released the lock.
    const d = await RawClient.connect(f.plain.port);
    await d.line();
    await d.cmd(`USER ${f.address}`);
    let reply = await d.cmd(`PASS ${f.password}`);
    while (reply.startsWith('-ERR [IN-USE]')) {
      await d.cmd(`USER ${f.address}`);
      reply = await d.cmd(`PASS ${f.password}`);
    }
    expect(reply).toMatch(/^\+OK maildrop has 3 messages/);
    expect(await inboxUids()).toEqual(uids);
    expect(await d.cmd('QUIT')).toMatch(/^\+OK 0 messages deleted/);
    expect(await inboxUids()).toEqual(uids);
  });

  it('one session per maildrop: the second login gets IN-USE until the first quits', async () => {
    await f.deliver([numberedMessage(1)]);
    const a = await RawClient.connect(f.plain.port);
    expect(await a.login(f.address, f.password)).toMatch(/^\+OK/);
    const b = await RawClient.connect(f.implicit.port, { tls: true });
    expect(await b.login(f.address, f.password)).toBe(
      '-ERR [IN-USE] another POP3 session has this maildrop open; close it (or wait for it to time out) and retry',
    );
    // IN-USE is not a failed login: the limiter holds nothing against us.
    expect(f.limiter.check('127.0.0.1', f.address).delayMs).toBe(0);
    expect(await a.cmd('QUIT')).toMatch(/^\+OK/);
    await a.closed();
    await b.cmd(`USER ${f.address}`);
    expect(await b.cmd(`PASS ${f.password}`)).toMatch(/^\+OK maildrop has 1 messages/);
    expect(await b.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('IMAP sees the deletion after QUIT, with an expunge event', async () => {
    const uids = await f.deliver([numberedMessage(1), numberedMessage(2)]);
    const watcher = await f.t.store.openMailbox(f.accountId);
    const events: { type: string; uids?: number[] }[] = [];
    const off = watcher.mailbox.onChange((c) => events.push(c));
    try {
      const c = await RawClient.connect(f.plain.port);
      expect(await c.login(f.address, f.password)).toMatch(/^\+OK/);
      expect(await c.cmd('DELE 2')).toMatch(/^\+OK/);
      expect(events).toEqual([]);
      expect(await c.cmd('QUIT')).toBe('+OK 1 messages deleted; goodbye');
      const inbox = watcher.mailbox.folders.require('INBOX').id;
      expect(watcher.mailbox.messages.list(inbox).map((m) => m.uid)).toEqual([uids[0]]);
      expect(watcher.mailbox.messages.expungedSince(inbox, 0)).toEqual([uids[1]]);
      expect(events).toMatchObject([{ type: 'expunge', uids: [uids[1]] }]);
    } finally {
      off();
      watcher.release();
    }
  });

  it('a message IMAP removed mid-session is reported (never another message in its place), and QUIT still succeeds', async () => {
    const uids = await f.deliver([numberedMessage(1, 'first'), numberedMessage(2, 'second')]);
    const c = await RawClient.connect(f.plain.port);
    expect(await c.login(f.address, f.password)).toMatch(/^\+OK maildrop has 2/);
    const lease = await f.t.store.openMailbox(f.accountId);
    lease.mailbox.messages.remove(lease.mailbox.folders.require('INBOX').id, [uids[1]]);
    lease.release();
    // SQLite may hand the freed blob id to the next message; RETR 2 must not serve it.
    await f.deliver([numberedMessage(3, 'newcomer')]);
    expect(await c.cmd('RETR 2')).toMatch(/^-ERR message 2 was deleted by another client/);
    expect((await c.multiCmd('RETR 1')).body.toString()).toContain('Subject: first');
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.cmd('DELE 2')).toMatch(/^\+OK/);
    expect(await c.cmd('QUIT')).toBe('+OK 2 messages deleted; goodbye');
    expect((await inboxUids()).length).toBe(1);
  });

  it('keep mode hides deleted messages from POP3 but leaves them for IMAP', async () => {
    f.t.store.directory.updateAccount(f.accountId, { pop3Keep: true });
    const uids = await f.deliver([numberedMessage(1), numberedMessage(2)]);
    const c = await RawClient.connect(f.plain.port);
    expect(await c.login(f.address, f.password)).toMatch(/^\+OK maildrop has 2/);
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK 1 messages deleted/);
    expect(await inboxUids()).toEqual(uids);
    const d = await RawClient.connect(f.plain.port);
    expect(await d.login(f.address, f.password)).toMatch(/^\+OK maildrop has 1 messages/);
    expect((await d.lines('UIDL')).length).toBe(1);
    expect(await d.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('UIDLs hold across reconnects, new mail, deletions and a store reopen', async () => {
    await f.deliver([numberedMessage(1), numberedMessage(2), numberedMessage(3)]);
    const uidl = async () => {
      const c = await RawClient.connect(f.plain.port);
      expect(await c.login(f.address, f.password)).toMatch(/^\+OK/);
      const lines = (await c.lines('UIDL')).map((l) => l.split(' ')[1]);
      return { c, lines };
    };
    const first = await uidl();
    expect(new Set(first.lines).size).toBe(3);
    for (const id of first.lines) expect(id).toMatch(/^[\x21-\x7e]{1,70}$/);
    expect(await first.c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await first.c.cmd('QUIT')).toMatch(/^\+OK/);

    await f.deliver([numberedMessage(4)]);
    const second = await uidl();
    expect(second.lines.slice(0, 2)).toEqual(first.lines.slice(1));
    expect(first.lines).not.toContain(second.lines[2]);
    expect(await second.c.cmd('QUIT')).toMatch(/^\+OK/);

    await f.restart();
    const third = await uidl();
    expect(third.lines).toEqual(second.lines);
    expect(await third.c.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('mail that arrives during a session waits for the next one (snapshot at login)', async () => {
    await f.deliver([numberedMessage(1)]);
    const c = await RawClient.connect(f.plain.port);
    expect(await c.login(f.address, f.password)).toMatch(/^\+OK maildrop has 1 messages/);
    await f.deliver([numberedMessage(2)]);
    expect(await c.cmd('STAT')).toMatch(/^\+OK 1 /);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
    const d = await RawClient.connect(f.plain.port);
    expect(await d.login(f.address, f.password)).toMatch(/^\+OK maildrop has 2 messages/);
    d.destroy();
  });
});
