/**
 * Group commit for local delivery (node/smtp/batch.ts) and the deferred-sync
 * write under it: deliveries that arrive together for one open mailbox share
 * one transaction; sessions hear of new mail only once it is durable, in
 * commit order; locked mailboxes still get sealed mail; Junk routing holds.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryBatcher } from '../../node/smtp/batch.js';
import { addDbObserver } from '../../node/store/db.js';
import type { MailboxChange } from '../../node/store/index.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';

const PW = 'correct horse battery';
let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
});
afterEach(() => t.cleanup());

describe('DeliveryBatcher', () => {
  it('writes concurrent deliveries to one open mailbox in one transaction, each answered once durable', async () => {
    await addAccount(t.store, 'alice@example.test', PW);
    const lease = await t.store.authenticate('alice@example.test', PW);
    const events: MailboxChange[] = [];
    const off = lease.mailbox.onChange((c) => events.push(c));
    const batcher = new DeliveryBatcher(t.store);
    const order: string[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        batcher.deliver(lease.account.id, sampleMessage({ body: `batch-${i}` })).then(() => {
          // By the time a caller hears "durable", sessions have heard of the message.
          order.push(events.length > 0 ? 'after-event' : 'before-event');
        }),
      ),
    );
    off();
    expect(order).toEqual(Array(20).fill('after-event'));
    const inbox = lease.mailbox.folders.require('INBOX');
    const msgs = lease.mailbox.messages.list(inbox.id);
    expect(msgs).toHaveLength(20);
    // One transaction: one modseq for all twenty, one 'exists' event naming them all.
    expect(new Set(msgs.map((m) => m.modseq)).size).toBe(1);
    expect(events).toEqual([expect.objectContaining({ type: 'exists', folderId: inbox.id, uids: msgs.map((m) => m.uid) })]);
    lease.release();
  });

  it('files into the named folder, INBOX when it does not exist', async () => {
    await addAccount(t.store, 'alice@example.test', PW);
    const lease = await t.store.authenticate('alice@example.test', PW);
    const batcher = new DeliveryBatcher(t.store);
    await Promise.all([
      batcher.deliver(lease.account.id, sampleMessage({ body: 'to-junk' }), 'Junk'),
      batcher.deliver(lease.account.id, sampleMessage({ body: 'to-nowhere' }), 'No Such Folder'),
    ]);
    const bodies = (folder: string) => {
      const f = lease.mailbox.folders.require(folder);
      return lease.mailbox.messages.list(f.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString());
    };
    expect(bodies('Junk').join()).toContain('to-junk');
    expect(bodies('Junk').join()).not.toContain('to-nowhere');
    expect(bodies('INBOX').join()).toContain('to-nowhere');
    lease.release();
  });

  it('seals concurrent mail for several locked mailboxes in one spool transaction', async () => {
    const accounts: { id: string }[] = [];
    for (const u of ['a', 'b', 'c']) accounts.push((await addAccount(t.store, `${u}@example.test`, PW)).account);
    const commits: string[] = [];
    const off = addDbObserver({ opened() {}, closing() {}, committed: (path) => commits.push(path) });
    try {
      const batcher = new DeliveryBatcher(t.store);
      await Promise.all(Array.from({ length: 12 }, (_, i) => batcher.deliver(accounts[i % 3].id, sampleMessage({ body: `sealed-${i}` }))));
    } finally {
      off();
    }
    expect(commits.filter((p) => p.includes('spool'))).toHaveLength(1);
    for (const [i, u] of ['a', 'b', 'c'].entries()) {
      const lease = await t.store.authenticate(`${u}@example.test`, PW);
      const inbox = lease.mailbox.folders.require('INBOX');
      const bodies = lease.mailbox.messages.list(inbox.id).map((m) => /sealed-\d+/.exec(lease.mailbox.messages.raw(m.blobId).toString())?.[0]);
      expect(bodies.sort()).toEqual([0, 1, 2, 3].map((k) => `sealed-${k * 3 + i}`).sort());
      lease.release();
    }
  });

  it('opens a locked managed-mode mailbox and delivers into it', async () => {
    const m = makeTestStore({ keyMode: 'managed' });
    try {
      const { account } = await addAccount(m.store, 'carol@example.test', PW);
      expect(m.store.isUnlocked(account.id)).toBe(false);
      await new DeliveryBatcher(m.store).deliver(account.id, sampleMessage({ body: 'managed-marker' }));
      expect(m.store.isUnlocked(account.id)).toBe(true);
      const lease = await m.store.openMailbox(account.id);
      const inbox = lease.mailbox.folders.require('INBOX');
      expect(lease.mailbox.messages.list(inbox.id).map((x) => lease.mailbox.messages.raw(x.blobId).toString()).join()).toContain('managed-marker');
      lease.release();
    } finally {
      m.cleanup();
    }
  });

  it('seals mail for a locked mailbox into the spool, drained at the next login', async () => {
    const { account } = await addAccount(t.store, 'bob@example.test', PW);
    expect(t.store.isUnlocked(account.id)).toBe(false);
    await new DeliveryBatcher(t.store).deliver(account.id, sampleMessage({ body: 'sealed-marker' }));
    const lease = await t.store.authenticate('bob@example.test', PW);
    const inbox = lease.mailbox.folders.require('INBOX');
    const raws = lease.mailbox.messages.list(inbox.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString());
    expect(raws.some((r) => r.includes('sealed-marker'))).toBe(true);
    lease.release();
  });
});

describe('deferred-sync appends', () => {
  it('holds events until durable, and a synchronous write releases earlier ones first, in order', async () => {
    await addAccount(t.store, 'alice@example.test', PW);
    const lease = await t.store.authenticate('alice@example.test', PW);
    const { messages, folders } = lease.mailbox;
    const inbox = folders.require('INBOX');
    const events: string[] = [];
    const off = lease.mailbox.onChange((c) => events.push(c.type));

    const first = messages.appendManyDeferred(inbox.id, [{ raw: sampleMessage({ body: 'one' }) }]);
    expect(events).toEqual([]);
    await first.durable;
    expect(events).toEqual(['exists']);

    const second = messages.appendManyDeferred(inbox.id, [{ raw: sampleMessage({ body: 'two' }) }]);
    expect(events).toEqual(['exists']);
    // A synchronous commit fsyncs the WAL, covering the deferred one: its event comes out first.
    messages.storeFlags(inbox.id, [second.results[0].uid], 'add', ['\\Seen']);
    expect(events).toEqual(['exists', 'exists', 'flags']);
    await second.durable;
    expect(events).toEqual(['exists', 'exists', 'flags']);
    off();
    lease.release();
  });
});
