/**
 * @module test/helpers/store
 * A real encrypted store in a fresh temporary directory, with a random
 * master key, for tests that need accounts and mail.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, type KeyMode } from '../../node/store/index.js';

export interface TestStore {
  store: Store;
  dataDir: string;
  masterKey: Buffer;
  reopen(): Store;
  cleanup(): void;
}

export function makeTestStore(opts: { keyMode?: KeyMode; idleCloseMs?: number; davResponseCacheBytes?: number } = {}): TestStore {
  const dataDir = mkdtempSync(join(tmpdir(), 'haven-test-'));
  const masterKey = randomBytes(32);
  const t: TestStore = {
    store: Store.open({ dataDir, masterKey, keyMode: opts.keyMode, idleCloseMs: opts.idleCloseMs, davResponseCacheBytes: opts.davResponseCacheBytes }),
    dataDir,
    masterKey,
    reopen() {
      t.store.close();
      t.store = Store.open({ dataDir, masterKey, keyMode: opts.keyMode, idleCloseMs: opts.idleCloseMs, davResponseCacheBytes: opts.davResponseCacheBytes });
      return t.store;
    },
    cleanup() {
      try {
        t.store.close();
      } catch {
        /* already closed */
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/**
 * Waits until the open mailboxes of these accounts have written the
 * full-text rows of their new mail, which follow delivery by up to
 * search.indexDelayMs (store/mailbox/fts-queue.ts): for tests that compare
 * database files or pages, which that write would change. A locked mailbox
 * has nothing waiting (its mail is in the sealed spool).
 */
export async function indexSettled(store: Store, accountIds: string[]): Promise<void> {
  for (const id of accountIds) {
    if (!store.isUnlocked(id)) continue;
    const lease = await store.openMailbox(id);
    try {
      for (let i = 0; lease.mailbox.search.unindexedCount() > 0; i++) {
        if (i > 2000) throw new Error('the full-text index never caught up');
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      lease.release();
    }
  }
}

/** Adds a domain and an account; returns the account and its recovery key. */
export async function addAccount(store: Store, address = 'alice@example.test', password = 'correct horse battery') {
  const domain = address.split('@')[1];
  if (!store.directory.getDomain(domain)) store.directory.addDomain(domain);
  const r = await store.createAccount(address, password);
  return { ...r, address, password };
}

/** The self-signed test certificate (CN=localhost, SAN localhost/127.0.0.1/::1, CA:FALSE). */
export function testTls(): { key: Buffer; cert: Buffer } {
  const dir = join(import.meta.dirname, '..', 'fixtures', 'tls');
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

/** A small RFC 5322 message carrying a marker string. */
export function sampleMessage(opts: { from?: string; to?: string; subject?: string; body?: string; messageId?: string } = {}): Buffer {
  const lines = [
    `From: ${opts.from ?? 'Bob <bob@example.net>'}`,
    `To: ${opts.to ?? 'alice@example.test'}`,
    `Subject: ${opts.subject ?? 'Hello'}`,
    `Date: Sat, 28 Nov 2026 10:00:00 +0000`,
    `Message-ID: <${opts.messageId ?? randomBytes(8).toString('hex') + '@example.net'}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.body ?? 'Hi Alice.',
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}
