import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthFailedError, MailboxLockedError, Store, WeakPasswordError } from '../../node/store/index.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';

let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
});
afterEach(() => t.cleanup());

describe('accounts and keys', () => {
  it('logs in with the password, refuses a wrong one, and touches nothing on failure', async () => {
    const { address, password } = await addAccount(t.store);
    const before = t.store.directory.wraps(t.store.directory.getAccount(address)!.id);
    await expect(t.store.authenticate(address, 'wrong password')).rejects.toBeInstanceOf(AuthFailedError);
    await expect(t.store.authenticate('nobody@example.test', password)).rejects.toBeInstanceOf(AuthFailedError);
    expect(t.store.directory.wraps(t.store.directory.getAccount(address)!.id)).toEqual(before);
    const lease = await t.store.authenticate(address, password);
    expect(lease.via).toBe('password');
    expect(lease.mailbox.folders.list().map((f) => f.name)).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    lease.release();
  });

  it('a refused account (duplicate, unknown domain) leaves no mailbox file behind', async () => {
    await addAccount(t.store);
    const files = () => readdirSync(join(t.dataDir, 'mailboxes')).sort();
    const before = files();
    await expect(t.store.createAccount('alice@example.test', 'another long password')).rejects.toThrow(/exists/);
    await expect(t.store.createAccount('bob@nowhere.test', 'another long password')).rejects.toThrow(/nowhere\.test/);
    expect(files()).toEqual(before);
  });

  it('refuses short passwords with advice', async () => {
    t.store.directory.addDomain('example.test');
    await expect(t.store.createAccount('a@example.test', 'short')).rejects.toBeInstanceOf(WeakPasswordError);
  });

  it('app passwords log in, are listed without the secret, and stop working when revoked', async () => {
    const { address, password } = await addAccount(t.store);
    const app = await t.store.addAppPassword(address, 'phone', password);
    const lease = await t.store.authenticate(address, app.password.toUpperCase());
    expect(lease.via).toBe('app');
    lease.release();
    expect(t.store.listAppPasswords(address)).toMatchObject([{ id: app.id, label: 'phone' }]);
    expect(JSON.stringify(t.store.listAppPasswords(address))).not.toContain(app.password);
    t.store.revokeAppPassword(address, app.id);
    await expect(t.store.authenticate(address, app.password)).rejects.toBeInstanceOf(AuthFailedError);
  });

  it('changes the password with the old one or the recovery key, keeping the mail', async () => {
    const { address, password, recoveryKey, account } = await addAccount(t.store);
    const lease = await t.store.authenticate(address, password);
    lease.mailbox.messages.append(lease.mailbox.folders.require('INBOX').id, sampleMessage());
    lease.release();
    t.store.lock(account.id);
    await t.store.changePassword(address, { password }, 'second password');
    await expect(t.store.authenticate(address, password)).rejects.toBeInstanceOf(AuthFailedError);
    await t.store.changePassword(address, { recoveryKey }, 'third password');
    await expect(t.store.changePassword(address, { recoveryKey: 'aaaa-bbbb' }, 'fourth password')).rejects.toBeInstanceOf(AuthFailedError);
    const l2 = await t.store.authenticate(address, 'third password');
    expect(l2.mailbox.messages.uids(l2.mailbox.folders.require('INBOX').id)).toEqual([1]);
    l2.release();
  });

  it('zero-access reset starts an empty mailbox and sets the old one aside; managed reset keeps mail', async () => {
    const { address, password, account } = await addAccount(t.store);
    const lease = await t.store.authenticate(address, password);
    lease.mailbox.messages.append(lease.mailbox.folders.require('INBOX').id, sampleMessage());
    lease.release();
    t.store.lock(account.id);
    const r = await t.store.resetPassword(address, 'brand new password');
    expect(r.keptMail).toBe(false);
    expect(r.recoveryKey).toBeTruthy();
    expect(readdirSync(`${t.dataDir}/mailboxes`).some((f) => f.includes('set-aside'))).toBe(true);
    const l2 = await t.store.authenticate(address, 'brand new password');
    expect(l2.mailbox.messages.uids(l2.mailbox.folders.require('INBOX').id)).toEqual([]);
    l2.release();

    const m = makeTestStore({ keyMode: 'managed' });
    try {
      const a = await addAccount(m.store, 'bob@example.test');
      await m.store.deliver(a.account.id, sampleMessage());
      const r2 = await m.store.resetPassword('bob@example.test', 'brand new password');
      expect(r2.keptMail).toBe(true);
      m.reopen();
      const l3 = await m.store.authenticate('bob@example.test', 'brand new password');
      expect(l3.mailbox.messages.uids(l3.mailbox.folders.require('INBOX').id)).toEqual([1]);
      l3.release();
    } finally {
      m.cleanup();
    }
  });

  it('in zero-access mode a restarted node cannot open a mailbox until its owner logs in', async () => {
    const { account, address, password } = await addAccount(t.store);
    t.reopen();
    await expect(t.store.openMailbox(account.id)).rejects.toBeInstanceOf(MailboxLockedError);
    const lease = await t.store.authenticate(address, password);
    const again = await t.store.openMailbox(account.id);
    expect(again.mailbox).toBe(lease.mailbox);
    again.release();
    lease.release();
  });

  it('a second login while unlocked uses the cache; a wrong secret still fails', async () => {
    const { address, password } = await addAccount(t.store);
    const a = await t.store.authenticate(address, password);
    const b = await t.store.authenticate(address, password);
    expect(b.via).toBe('warm');
    await expect(t.store.authenticate(address, 'not the password')).rejects.toBeInstanceOf(AuthFailedError);
    a.release();
    b.release();
  });

  it('a password changed, an app password revoked or a password reset ends the cached login at once', async () => {
    // The node is the only writer (the CLI asks it over the control socket), so every change of a wrap
    // goes through this store, which forgets the account's cached logins.
    const { address, password } = await addAccount(t.store);
    const held = await t.store.authenticate(address, password);
    const app = await t.store.addAppPassword(address, 'phone');
    expect((await t.store.authenticate(address, app.password)).via).toBe('app');
    // Adding the app password changed the account's wraps: the warm login of `held` is gone, the KDF-free one is not.
    expect((await t.store.authenticate(address, password)).via).toBe('cached');
    expect((await t.store.authenticate(address, password)).via).toBe('warm');
    expect((await t.store.authenticate(address, app.password)).via).toBe('warm');
    await t.store.changePassword(address, { password }, 'a brand new password, long enough');
    t.store.revokeAppPassword(address, app.id);
    await expect(t.store.authenticate(address, password)).rejects.toBeInstanceOf(AuthFailedError);
    await expect(t.store.authenticate(address, app.password)).rejects.toBeInstanceOf(AuthFailedError);
    const fresh = await t.store.authenticate(address, 'a brand new password, long enough');
    expect(fresh.mailbox).toBe(held.mailbox);
    fresh.release();
    held.release();
  });

  describe('warm logins (skip the directory as well as the KDF)', () => {
    const warmAgain = async (address: string, secret: string) => {
      const l = await t.store.authenticate(address, secret);
      l.release();
      return l.via;
    };

    it('a repeat of a proven login is warm; a wrong secret or another spelling of it is not', async () => {
      const { address, password } = await addAccount(t.store);
      const held = await t.store.authenticate(address, password);
      expect(await warmAgain(address, password)).toBe('warm');
      await expect(t.store.authenticate(address, password + ' ')).rejects.toBeInstanceOf(AuthFailedError);
      await expect(t.store.authenticate(address, password.slice(0, -1))).rejects.toBeInstanceOf(AuthFailedError);
      held.release();
    });

    it('a disabled or removed account, a lock and a revoked app password end it at once', async () => {
      const { address, password } = await addAccount(t.store);
      const id = t.store.directory.getAccount(address)!.id;
      const held = await t.store.authenticate(address, password);
      const app = await t.store.addAppPassword(address, 'phone');
      expect(await warmAgain(address, app.password)).toBe('app');
      expect(await warmAgain(address, app.password)).toBe('warm');
      t.store.revokeAppPassword(address, app.id);
      await expect(t.store.authenticate(address, app.password)).rejects.toBeInstanceOf(AuthFailedError);

      // The revocation forgot every remembered login of the account: the password is proven again.
      expect(await warmAgain(address, password)).toBe('password');
      expect(await warmAgain(address, password)).toBe('warm');
      t.store.directory.updateAccount(id, { disabled: true });
      await expect(t.store.authenticate(address, password)).rejects.toBeInstanceOf(AuthFailedError);
      t.store.directory.updateAccount(id, { disabled: false });
      expect(await warmAgain(address, password)).not.toBe('warm');
      expect(await warmAgain(address, password)).toBe('warm');

      held.release();
      t.store.lock(id);
      expect(t.store.isUnlocked(id)).toBe(false);
      // Locked: the next login derives the key again (zero-access), it is not served from memory.
      expect(await warmAgain(address, password)).toBe('password');
      expect(await warmAgain(address, password)).toBe('warm');
      t.store.lock(id);
      t.store.removeAccount(address);
      await expect(t.store.authenticate(address, password)).rejects.toBeInstanceOf(AuthFailedError);
    });

    it('a password reset ends it; the new password starts its own', async () => {
      const { address, password } = await addAccount(t.store);
      expect(await warmAgain(address, password)).toBe('password');
      const held = await t.store.authenticate(address, password);
      expect(held.via).toBe('warm');
      held.release();
      const { keptMail } = await t.store.resetPassword(address, 'the password after the reset');
      expect(keptMail).toBe(false);
      await expect(t.store.authenticate(address, password)).rejects.toBeInstanceOf(AuthFailedError);
      expect(await warmAgain(address, 'the password after the reset')).toBe('password');
      expect(await warmAgain(address, 'the password after the reset')).toBe('warm');
    });
  });
});
