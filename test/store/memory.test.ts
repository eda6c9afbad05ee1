/**
 * Bounded memory per open mailbox (issue 20, DESIGN "Targets": a 1 GB
 * server). Each mailbox database caches a bounded number of decrypted pages
 * (SQLite cache_size, https://sqlite.org/pragma.html#pragma_cache_size: a
 * negative value is a limit in KiB), an unused mailbox gives its caches back
 * and keeps answering correctly, and no more than maxOpen unused mailboxes
 * stay open.
 */
import { afterEach, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, STORE_MEMORY_DEFAULTS } from '../../node/store/index.js';
import { addAccount, sampleMessage } from '../helpers/store.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(opts: Partial<Parameters<typeof Store.open>[0]> = {}): Store {
  const dataDir = mkdtempSync(join(tmpdir(), 'haven-mem-'));
  dirs.push(dataDir);
  const s = Store.open({ dataDir, masterKey: randomBytes(32), ...opts });
  stores.push(s);
  return s;
}

it('opens each mailbox with the configured page cache, not the driver\'s 16 MB default', async () => {
  const s = open({ mailboxCacheKiB: 512 });
  await addAccount(s, 'a@example.test', 'pw correct horse');
  const lease = await s.authenticate('a@example.test', 'pw correct horse');
  expect(lease.mailbox.pageCacheKiB()).toBe(512);
  lease.release();
  const d = open();
  await addAccount(d, 'b@example.test', 'pw correct horse');
  const l2 = await d.authenticate('b@example.test', 'pw correct horse');
  expect(l2.mailbox.pageCacheKiB()).toBe(STORE_MEMORY_DEFAULTS.mailboxCacheKiB);
  l2.release();
});

it('a trimmed mailbox gives back its caches and still reads and writes the same data', async () => {
  const s = open();
  await addAccount(s, 'a@example.test', 'pw correct horse');
  const lease = await s.authenticate('a@example.test', 'pw correct horse');
  const m = lease.mailbox;
  const inbox = m.folders.require('INBOX').id;
  const [a] = m.messages.appendMany(inbox, [{ raw: sampleMessage({ subject: 'one' }) }, { raw: sampleMessage({ subject: 'two' }) }]);
  m.messages.storeFlags(inbox, [a.uid], 'add', ['\\Seen']);
  const before = m.messages.flagLookup(inbox);
  m.trimMemory();
  const after = m.messages.flagLookup(inbox);
  expect(after).not.toBe(before); // rebuilt, not kept
  expect(m.messages.list(inbox).map((x) => x.flags)).toEqual([['\\Seen'], []]);
  m.messages.storeFlags(inbox, [a.uid], 'remove', ['\\Seen']);
  expect(m.messages.get(inbox, a.uid)?.flags).toEqual([]);
  lease.release();
});

it('closes the least recently used unused mailboxes past maxOpen', async () => {
  const s = open({ maxOpen: 2 });
  const ids: string[] = [];
  for (const n of ['a', 'b', 'c']) {
    const acct = await addAccount(s, `${n}@example.test`, 'pw correct horse');
    ids.push(acct.account.id);
    (await s.authenticate(`${n}@example.test`, 'pw correct horse')).release();
  }
  expect(ids.map((id) => s.isUnlocked(id))).toEqual([false, true, true]);
});
