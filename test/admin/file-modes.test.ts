/**
 * Files private (issue 15): every file a node writes under its data
 * directory (databases with their -wal and -shm, keys, spool, replication
 * state and outbox, the lock, the control socket) is 0600 and every
 * directory 0700, whatever the umask; the only exception is the public
 * half of the TLS certificate, which is meant to be read. The walk runs
 * while the node is up (WAL files exist) and after it stopped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode } from '../../node/main.js';
import { walk, wrongModes } from '../helpers/modes.js';

const root = mkdtempSync(join(tmpdir(), 'haven-modes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('files in the data directory', () => {
  it('are 0600 in 0700 directories while the node runs and after it stops, even under umask 022', async () => {
    const old = process.umask(0o022);
    const dataDir = join(root, 'data');
    try {
      const node = await startNode(testConfig(dataDir, { dnsbl: [], masterKey: randomBytes(32).toString('hex'), replicaUrl: pathToFileURL(join(root, 'replica')).href }), { adminUi: false });
      try {
        await node.operations.call('domain.add', { name: 'example.org' });
        await node.operations.call('account.add', { address: 'alice@example.org', password: 'alice has a long password' });
        const account = node.store.directory.getAccount('alice@example.org')!;
        await node.store.sealMany([{ accountId: account.id, raw: Buffer.from('Subject: x\r\n\r\nsealed\r\n') }]);
        // The owner logs in: the mailbox opens, with its -wal and -shm, and the spool drains into it.
        const lease = await node.store.authenticate('alice@example.org', 'alice has a long password');
        await node.replication!.flush(20_000);
        const files = walk(dataDir).map((f) => relative(dataDir, f.path));
        expect(files).toEqual(expect.arrayContaining([`mailboxes/${account.id}.sqlite`, `mailboxes/${account.id}.sqlite-wal`, 'directory.sqlite-wal', 'spool.sqlite', 'control.sock', 'node.pid']));
        expect(wrongModes(dataDir)).toEqual([]);
        lease.release();
      } finally {
        await node.close();
      }
      expect(wrongModes(dataDir)).toEqual([]);
    } finally {
      process.umask(old);
    }
  }, 60_000);
});
