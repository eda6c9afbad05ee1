import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, writeSync, closeSync, truncateSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptDatabaseError, DiskFullError, Store, WrongKeyError } from '../../node/store/index.js';
import { SchemaTooNewError } from '../../node/store/migrate.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';

let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
});
afterEach(() => t.cleanup());

describe('damaged files', () => {
  it('a corrupted mailbox file gives an error naming it while other mailboxes keep working', async () => {
    const alice = await addAccount(t.store, 'alice@example.test');
    const bob = await addAccount(t.store, 'bob@example.test');
    t.store.close();
    const path = join(t.dataDir, 'mailboxes', `${alice.account.id}.sqlite`);
    const fd = openSync(path, 'r+');
    writeSync(fd, randomBytes(4096), 0, 4096, 0);
    closeSync(fd);
    t.reopen();
    const err = await t.store.authenticate(alice.address, alice.password).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err.message)).toContain(path);
    const lease = await t.store.authenticate(bob.address, bob.password);
    await t.store.deliver(bob.account.id, sampleMessage());
    expect(lease.mailbox.messages.uids(lease.mailbox.folders.require('INBOX').id)).toEqual([1]);
    lease.release();
  });

  it('a truncated mailbox file is reported as damaged, not as a wrong password', async () => {
    const alice = await addAccount(t.store, 'alice@example.test');
    const lease = await t.store.authenticate(alice.address, alice.password);
    for (let i = 0; i < 20; i++) lease.mailbox.messages.append(lease.mailbox.folders.require('INBOX').id, sampleMessage({ body: 'z'.repeat(5000) }));
    lease.release();
    t.store.close();
    const path = join(t.dataDir, 'mailboxes', `${alice.account.id}.sqlite`);
    // Fold the WAL in first so the truncation hits real pages.
    const s = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey });
    s.close();
    truncateSync(path, Math.floor(statSync(path).size / 3));
    rmSync(path + '-wal', { force: true });
    t.reopen();
    const err = await t.store.authenticate(alice.address, alice.password).then(
      (l) => {
        // Opening may succeed when the damage is past the first pages; reading must then fail clearly.
        try {
          l.mailbox.messages.list(l.mailbox.folders.require('INBOX').id).forEach((m) => l.mailbox.messages.raw(m.blobId));
          return l.mailbox.integrityCheck();
        } catch (e) {
          return e;
        } finally {
          l.release();
        }
      },
      (e) => e,
    );
    expect(err instanceof CorruptDatabaseError || (err instanceof Error && /malformed|damaged|corrupt/i.test(err.message)) || (typeof err === 'string' && err !== 'ok')).toBe(true);
  });

  it('the directory under a wrong master key is refused as a key problem', () => {
    t.store.close();
    expect(() => Store.open({ dataDir: t.dataDir, masterKey: randomBytes(32) })).toThrow(WrongKeyError);
  });

  it('a database from a newer Haven is refused with advice, not touched', async () => {
    t.store.directory.db.pragma('user_version = 99');
    t.store.close();
    expect(() => Store.open({ dataDir: t.dataDir, masterKey: t.masterKey })).toThrow(SchemaTooNewError);
  });
});

function canMountTmpfs(): boolean {
  return process.getuid?.() === 0;
}

describe('disk full', () => {
  it('refuses the write, loses nothing already stored, and works again once space is freed', async (ctx) => {
    // A real full filesystem: a 3 MiB tmpfs mounted for this test (CI runs as root).
    if (!canMountTmpfs()) ctx.skip();
    const mnt = mkdtempSync(join(tmpdir(), 'haven-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
    let store: Store | undefined;
    try {
      const dataDir = join(mnt, 'data');
      mkdirSync(dataDir);
      const key = randomBytes(32);
      store = Store.open({ dataDir, masterKey: key });
      store.directory.addDomain('example.test');
      const { account } = await store.createAccount('alice@example.test', 'correct horse battery');
      const lease = await store.authenticate('alice@example.test', 'correct horse battery');
      const inbox = lease.mailbox.folders.require('INBOX').id;
      let stored = 0;
      let failure: unknown;
      for (let i = 0; i < 200; i++) {
        try {
          lease.mailbox.messages.append(inbox, sampleMessage({ subject: `f${i}`, body: randomBytes(30_000).toString('base64') }));
          stored++;
        } catch (e) {
          failure = e;
          break;
        }
      }
      expect(failure).toBeInstanceOf(DiskFullError);
      expect((failure as Error).message).toMatch(/free space/);
      expect(lease.mailbox.messages.uids(inbox)).toHaveLength(stored);
      lease.release();
      store.close();
      // Reopen: everything acknowledged is intact.
      store = Store.open({ dataDir, masterKey: key });
      const l2 = await store.authenticate('alice@example.test', 'correct horse battery');
      expect(l2.mailbox.messages.uids(l2.mailbox.folders.require('INBOX').id)).toHaveLength(stored);
      expect(l2.mailbox.integrityCheck()).toBe('ok');
      // Free space (grow the filesystem) and the same write goes through.
      execFileSync('mount', ['-o', 'remount,size=16m', mnt]);
      l2.mailbox.messages.append(l2.mailbox.folders.require('INBOX').id, sampleMessage({ subject: 'after' }));
      expect(l2.mailbox.messages.uids(l2.mailbox.folders.require('INBOX').id)).toHaveLength(stored + 1);
      l2.release();
      store.close();
      void account;
    } finally {
      try {
        store?.close();
      } catch {
        /* already closed */
      }
      execFileSync('umount', ['-l', mnt]);
    }
  });
});
