import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';

let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
});
afterEach(() => t.cleanup());

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('sealed inbox', () => {
  it('seals mail for a locked mailbox and drains it in order, exactly once, at the next login', async () => {
    const { account, address, password } = await addAccount(t.store);
    t.reopen();
    for (let i = 0; i < 5; i++) {
      const r = await t.store.deliver(account.id, sampleMessage({ subject: `n${i}` }));
      expect(r.where).toBe('spool');
    }
    expect(t.store.spool.stats(account.id).messages).toBe(5);
    const lease = await t.store.authenticate(address, password);
    const inbox = lease.mailbox.folders.require('INBOX');
    const subjects = lease.mailbox.messages.list(inbox.id).map((m) => lease.mailbox.messages.parsed(m.blobId).envelope.subject);
    expect(subjects).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    expect(t.store.spool.stats(account.id).messages).toBe(0);
    // While unlocked, mail goes straight in.
    expect((await t.store.deliver(account.id, sampleMessage({ subject: 'live' }))).where).toBe('mailbox');
    lease.release();
    t.reopen();
    const l2 = await t.store.authenticate(address, password);
    expect(l2.mailbox.messages.uids(l2.mailbox.folders.require('INBOX').id)).toEqual([1, 2, 3, 4, 5, 6]);
    l2.release();
  });

  it('counts sealed mail against the quota before it is drained', async () => {
    const { account } = await addAccount(t.store);
    t.store.directory.updateAccount(account.id, { quotaBytes: 1000 });
    t.reopen();
    await t.store.deliver(account.id, sampleMessage({ body: 'x'.repeat(600) }));
    const fresh = t.store.directory.getAccountById(account.id)!;
    expect(() => t.store.checkQuota(fresh, 600)).toThrow(/quota exceeded/);
    expect(() => t.store.checkQuota(fresh, 10)).not.toThrow();
  });

  it('leaves no plaintext marker, address or subject in any file of the data directory', async () => {
    const { account, address, password } = await addAccount(t.store, 'marker-owner@example.test');
    t.reopen();
    const marker = 'PLAINTEXT-MARKER-7f3a';
    await t.store.deliver(account.id, sampleMessage({ subject: 'Subject-Marker-Q9', body: marker, from: 'sender-marker@example.net', to: address }));
    const lease = await t.store.authenticate(address, password);
    await t.store.deliver(account.id, sampleMessage({ subject: 'Subject-Marker-Q9', body: marker, from: 'sender-marker@example.net', to: address }));
    lease.mailbox.dav.put(lease.mailbox.dav.collection('calendar', 'default')!.id, {
      name: 'e.ics',
      uid: 'uid-marker',
      data: `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:uid-marker\r\nSUMMARY:${marker}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`,
    });
    t.store.directory.addAlias('alias-marker@example.test', [address]);
    const files = allFiles(t.dataDir);
    expect(files.some((f) => f.endsWith('-wal'))).toBe(true);
    for (const f of files) {
      if (!statSync(f).isFile()) continue;
      const bytes = readFileSync(f);
      for (const needle of [marker, 'Subject-Marker-Q9', 'sender-marker', 'marker-owner', 'alias-marker', 'example.test']) {
        expect(bytes.includes(Buffer.from(needle)), `${needle} found in ${f}`).toBe(false);
        expect(bytes.includes(Buffer.from(needle, 'utf16le')), `${needle} (utf16) found in ${f}`).toBe(false);
      }
    }
    lease.release();
  });
});
