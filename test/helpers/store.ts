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
