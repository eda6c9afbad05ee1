/**
 * @module test/replication/replicate
 * End to end against a real S3-compatible server (s3rver on loopback) and a
 * filesystem replica: mail delivered while replicating comes back from a
 * wiped data directory byte for byte, with its UIDs, flags and modseqs; a
 * point-in-time restore lands between two deliveries; no replica object
 * carries a marker, an address or a subject in the clear.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrapKey } from '../../node/crypto/index.js';
import { restore, restoreIfEmpty, replicate, verifyBackup, RestoreRefusedError, type RestoreProgress } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, indexSettled, makeTestStore, sampleMessage } from '../helpers/store.js';
import { dumpMailbox, filesUnder, startS3, tempDir, type TestS3 } from './helpers.js';

const MARKERS = ['PLAINTEXT-MARKER-7f3a', 'Quarterly secret subject', 'alice@example.test', 'bob@example.test', 'carol@example.net'];


describe.each(['file', 's3'] as const)('replication to a %s replica', (kind) => {
  let s3: TestS3 | null = null;
  let fileDir = '';
  let url = '';
  /** A separate replica per test: another prefix in the bucket, or another directory. */
  const targetFor = (tag: string) => (kind === 's3' ? s3!.url.replace('node-a', tag) : `file://${join(fileDir, tag)}`);

  beforeAll(async () => {
    if (kind === 's3') {
      s3 = await startS3('node-a');
      url = s3.url;
    } else {
      fileDir = tempDir('replica');
      url = `file://${join(fileDir, 'node-a')}`;
    }
  });
  afterAll(async () => {
    await s3?.cleanup();
    if (fileDir) rmSync(fileDir, { recursive: true, force: true });
  });

  it('restores a wiped node with every message byte for byte, same UIDs, flags and modseqs; no plaintext in the replica', async () => {
    const t = makeTestStore();
    const rep = replicate({ url, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    let store = t.reopen();
    const alice = await addAccount(store, 'alice@example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    // Alice is locked: these go to the sealed spool, then drain into her mailbox at login.
    for (let i = 0; i < 3; i++) {
      await store.deliver(alice.account.id, sampleMessage({ from: 'carol@example.net', subject: `Quarterly secret subject ${i}`, body: `PLAINTEXT-MARKER-7f3a spool ${i}` }));
    }
    const lease = await store.authenticate(alice.address, alice.password);
    for (let i = 0; i < 4; i++) {
      await store.deliver(alice.account.id, sampleMessage({ subject: `Quarterly secret subject live ${i}`, body: `PLAINTEXT-MARKER-7f3a live ${i} ${'x'.repeat(3000 * i)}` }));
    }
    const inbox = lease.mailbox.folders.require('INBOX');
    lease.mailbox.messages.storeFlags(inbox.id, [1, 3], 'add', ['\\Seen', '$Important']);
    lease.mailbox.messages.storeFlags(inbox.id, [2], 'add', ['\\Flagged']);
    const archive = lease.mailbox.folders.create('Projects');
    lease.mailbox.messages.copy(inbox.id, [4, 5], archive.id);
    lease.release();
    for (let i = 0; i < 3; i++) await store.deliver(bob.account.id, sampleMessage({ to: 'bob@example.test', body: `PLAINTEXT-MARKER-7f3a bob ${i}` }));

    const before = { alice: await dumpMailbox(store, alice.address, alice.password), bob: await dumpMailbox(store, 'bob@example.test', 'bob password long') };
    expect(before.alice.messages.length).toBe(9);
    expect(before.bob.messages.length).toBe(3);

    // The live files are compared with the replica below: no index write may follow the flush.
    await indexSettled(store, [alice.account.id, bob.account.id]);
    await rep.flush();
    expect(rep.status().lagMs).toBe(0);
    expect(rep.status().uploads).toBeGreaterThan(0);
    const live = await verifyBackup({ target: url, dataDir: t.dataDir, masterKey: t.masterKey, replication: rep });
    expect(live.databases.filter((d) => d.result !== 'same' && d.result !== 'pages-match')).toEqual([]);
    expect(live.ok).toBe(true);
    store.close();
    await rep.stop();

    // Every replica object is ciphertext or numbers: no marker, address or subject, not even in a key.
    const objects = kind === 's3' ? s3!.objects() : filesUnder(join(fileDir, 'node-a'));
    expect(objects.size).toBeGreaterThan(4);
    for (const [key, bytes] of objects) {
      for (const m of MARKERS) {
        expect(key.includes(m), `${m} in key ${key}`).toBe(false);
        expect(bytes.includes(m), `${m} in ${key}`).toBe(false);
        expect(bytes.includes(Buffer.from(m, 'utf16le')), `${m} (utf16) in ${key}`).toBe(false);
      }
    }

    // Restoring over the live directory needs force.
    await expect(restore({ target: url, into: t.dataDir, masterKey: t.masterKey })).rejects.toBeInstanceOf(RestoreRefusedError);

    rmSync(t.dataDir, { recursive: true, force: true });
    const seen: RestoreProgress[] = [];
    const r = await restore({ target: url, into: t.dataDir, masterKey: t.masterKey, onProgress: (p) => seen.push(p) });
    const verified = Object.fromEntries(r.databases.map((d) => [d.db, d.verified]));
    expect(verified).toEqual({
      directory: 'integrity_check',
      spool: 'integrity_check',
      [`mailbox-${alice.account.id}`]: 'structure', // zero-access: the server has no key
      [`mailbox-${bob.account.id}`]: 'integrity_check', // managed: key wrapped with the master key
    });
    expect(seen.at(-1)).toMatchObject({ phase: 'done' });
    expect(seen.at(-1)!.bytesDone).toBe(seen.at(-1)!.bytesTotal);
    expect(seen.some((p) => p.phase === 'fetch' && p.etaMs !== null)).toBe(true);

    store = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey });
    try {
      expect(await dumpMailbox(store, alice.address, alice.password)).toEqual(before.alice);
      expect(await dumpMailbox(store, 'bob@example.test', 'bob password long')).toEqual(before.bob);
    } finally {
      store.close();
    }

    // With its key (here from the password, as a recovery-key tool would), the zero-access mailbox is opened and checked too.
    const other = tempDir('restore-one');
    try {
      const dirStore = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey });
      const wrap = dirStore.directory.wraps(alice.account.id).find((w) => w.kind === 'password')!;
      const key = await unwrapKey(wrap.wrapped, alice.password);
      dirStore.close();
      const one = await restore({ target: url, into: other, only: alice.account.id, mailboxKeys: { [alice.account.id]: key } });
      expect(one.databases.map((d) => [d.db, d.verified])).toEqual([[`mailbox-${alice.account.id}`, 'integrity_check']]);
      expect(existsSync(join(other, 'directory.sqlite'))).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    t.cleanup();
  });

  it('restores to a point in time between two deliveries', async () => {
    const t = makeTestStore();
    const target = targetFor('node-pitr');
    const rep = replicate({ url: target, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    const store = t.reopen();
    store.directory.addDomain('example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    await store.deliver(bob.account.id, sampleMessage({ subject: 'first' }));
    await rep.flush();
    const between = Date.now();
    while (Date.now() <= between) {
      /* the next commit must be stamped strictly later */
    }
    await store.deliver(bob.account.id, sampleMessage({ subject: 'second' }));
    await rep.flush();
    store.close();
    await rep.stop();

    for (const [at, subjects] of [
      [new Date(between), ['first']],
      [undefined, ['first', 'second']],
    ] as const) {
      const into = tempDir('pitr');
      try {
        await restore({ target, into, at, masterKey: t.masterKey });
        const s = Store.open({ dataDir: into, masterKey: t.masterKey });
        const lease = await s.openMailbox(bob.account.id);
        const inbox = lease.mailbox.folders.require('INBOX');
        const got = lease.mailbox.messages.list(inbox.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString().match(/^Subject: (.*)$/m)![1]);
        lease.release();
        s.close();
        expect(got).toEqual(subjects);
      } finally {
        rmSync(into, { recursive: true, force: true });
      }
    }
    t.cleanup();
  });

  it('restores a new node on first boot from an empty data directory', async () => {
    const target = targetFor('node-boot');
    const t = makeTestStore();
    const rep = replicate({ url: target, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
    const store = t.reopen();
    const alice = await addAccount(store, 'alice@example.test');
    await store.deliver(alice.account.id, sampleMessage({ body: 'boot' }));
    const before = await dumpMailbox(store, alice.address, alice.password);
    await rep.flush();
    store.close();
    await rep.stop();

    const fresh = tempDir('fresh');
    try {
      expect(await restoreIfEmpty({ url: target, dataDir: fresh, masterKey: t.masterKey, log: silentLogger })).toMatchObject({ restored: true });
      expect(await restoreIfEmpty({ url: target, dataDir: fresh, masterKey: t.masterKey, log: silentLogger })).toEqual({ restored: false, reason: 'not-empty' });
      const s = Store.open({ dataDir: fresh, masterKey: t.masterKey });
      expect(await dumpMailbox(s, alice.address, alice.password)).toEqual(before);
      s.close();
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
    const empty = tempDir('empty');
    const emptyTarget = targetFor('node-none');
    expect(await restoreIfEmpty({ url: emptyTarget, dataDir: empty, masterKey: t.masterKey, log: silentLogger })).toEqual({ restored: false, reason: 'replica-empty' });
    rmSync(empty, { recursive: true, force: true });
    t.cleanup();
  });
});
