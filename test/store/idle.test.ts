/**
 * An unused open mailbox first gives back its caches (trimAfterMs) and later
 * closes (idleCloseMs), counted from its last use; a mailbox in use, or used
 * again meanwhile, stays as it is. The timer is not re-armed per lease, so
 * these check that a timer armed before a later use does not cut it short.
 * Waits are for the condition, bounded; no figure depends on the machine's speed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../node/store/index.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';

let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
  t.store.close();
  t.store = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey, trimAfterMs: 150, idleCloseMs: 600 });
});
afterEach(() => t.cleanup());

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('idle mailboxes', () => {
  it('trims after trimAfterMs unused, then closes after idleCloseMs unused', async () => {
    const { address, password } = await addAccount(t.store);
    const lease = await t.store.authenticate(address, password);
    const id = lease.account.id;
    const { rendered } = lease.mailbox.dav;
    rendered.setHeads(1, 1, []);
    rendered.set(1, 1, 'v', '/x', '"e"', 'text');
    const released = Date.now();
    lease.release();
    await until(() => rendered.size === 0);
    expect(t.store.isUnlocked(id)).toBe(true);
    await until(() => !t.store.isUnlocked(id));
    expect(Date.now() - released).toBeGreaterThanOrEqual(600);
  });

  it('a mailbox held by a lease stays open past idleCloseMs, and closes once released and unused', async () => {
    const { address, password } = await addAccount(t.store);
    const first = await t.store.authenticate(address, password);
    const id = first.account.id;
    first.release();
    // Used again before the timer armed by the first release fires, and held.
    const held = await t.store.authenticate(address, password);
    const heldSince = Date.now();
    await until(() => Date.now() - heldSince > 900);
    expect(t.store.isUnlocked(id)).toBe(true);
    const released = Date.now();
    held.release();
    await until(() => !t.store.isUnlocked(id));
    expect(Date.now() - released).toBeGreaterThanOrEqual(600);
  });

  it('a use shortly before the timer fires pushes the close back to a full idleCloseMs after it', async () => {
    const { address, password } = await addAccount(t.store);
    const first = await t.store.authenticate(address, password);
    const id = first.account.id;
    first.release();
    const start = Date.now();
    await until(() => Date.now() - start > 400);
    const again = await t.store.authenticate(address, password);
    const lastUse = Date.now();
    again.release();
    await until(() => !t.store.isUnlocked(id));
    expect(Date.now() - lastUse).toBeGreaterThanOrEqual(600);
  });
});
