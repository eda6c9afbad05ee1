/**
 * startNode's replication wiring: a node with replicaUrl streams its
 * databases to the replica; a rebuilt node (same master key, same replica,
 * empty data directory) restores itself before any listener opens, and its
 * first IMAP login sees the mail the old node acknowledged. A rebuilt node
 * without the master key refuses to start instead of forking the history.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode } from '../../node/main.js';
import { startTestDns } from '../helpers/dns-server.js';

const dir = mkdtempSync(join(tmpdir(), 'haven-replica-boot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ADDRESS = 'alice@example.org';
const PASSWORD = 'alice-password-1';

describe('startNode with a replica', () => {
  it('streams to the replica and a rebuilt node restores itself on first boot', async () => {
    const dns = await startTestDns();
    const masterKey = randomBytes(32).toString('hex');
    const replicaUrl = pathToFileURL(join(dir, 'replica')).href;
    try {
      const a = await startNode(testConfig(join(dir, 'a'), { dnsbl: [], masterKey, replicaUrl }), { resolver: dns.resolver, adminUi: false });
      expect(a.replication).not.toBeNull();
      expect(a.restored).toBe(false);
      expect(a.masterKey.origin).toBe('env');
      // A configured master key is never written into the data directory.
      expect(existsSync(join(dir, 'a', 'master.key'))).toBe(false);
      a.store.directory.addDomain('example.org');
      await a.store.createAccount(ADDRESS, PASSWORD);
      const mx = nodemailer.createTransport({ host: '127.0.0.1', port: a.ports.smtp, tls: { ca: readFileSync(a.certificate.certFile), servername: 'localhost' } });
      await mx.sendMail({ from: 'bob@outside.test', to: ADDRESS, subject: 'kept by the replica', text: 'hello' });
      await a.replication!.flush(20_000);
      await a.close();

      // Without the master key, the rebuilt node must not start fresh over a replica that holds a node.
      const noKey = await startNode(testConfig(join(dir, 'b'), { dnsbl: [], replicaUrl }), { resolver: dns.resolver, adminUi: false }).catch((e: unknown) => e);
      expect(noKey).toBeInstanceOf(Error);
      expect((noKey as Error).message).toMatch(/no master key is configured; set HAVEN_MASTER_KEY_FILE/);
      expect(existsSync(join(dir, 'b', 'directory.sqlite'))).toBe(false);

      const b = await startNode(testConfig(join(dir, 'b'), { dnsbl: [], masterKey, replicaUrl }), { resolver: dns.resolver, adminUi: false });
      try {
        expect(b.restored).toBe(true);
        expect(b.fresh).toBe(false);
        const client = new ImapFlow({
          host: '127.0.0.1',
          port: b.ports.imaps!,
          secure: true,
          auth: { user: ADDRESS, pass: PASSWORD },
          tls: { ca: readFileSync(b.certificate.certFile), servername: 'localhost' },
          logger: false,
        });
        await client.connect();
        const lock = await client.getMailboxLock('INBOX');
        const subjects: string[] = [];
        for await (const m of client.fetch('1:*', { envelope: true })) subjects.push(m.envelope!.subject!);
        lock.release();
        await client.logout();
        expect(subjects).toEqual(['kept by the replica']);
      } finally {
        await b.close();
      }
    } finally {
      await dns.close();
    }
  }, 60_000);
});
