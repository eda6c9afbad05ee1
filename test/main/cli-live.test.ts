/**
 * The `haven` CLI against a running node: the command (another process)
 * asks the node over its control socket and the node makes the account, so
 * it logs in at once, and the command returns only once the node's
 * replicator has shipped it: the directory row and the new mailbox both.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ImapFlow } from 'imapflow';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode } from '../../node/main.js';
import { restore } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import { startTestDns } from '../helpers/dns-server.js';
import { runHavenBinary } from '../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'haven-cli-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function haven(args: string[], env: Record<string, string>, stdin: string) {
  return runHavenBinary(args, { env, stdin });
}

describe('haven CLI next to a running node', () => {
  it('adds an account the node serves at once and the replica holds when the command returns', async () => {
    const dns = await startTestDns();
    const masterKey = randomBytes(32).toString('hex');
    const dataDir = join(dir, 'data');
    const replicaUrl = pathToFileURL(join(dir, 'replica')).href;
    const node = await startNode(testConfig(dataDir, { dnsbl: [], masterKey, replicaUrl }), { resolver: dns.resolver, adminUi: false });
    try {
      node.store.directory.addDomain('example.org');
      await node.replication!.flush(20_000);

      const r = await haven(['account', 'add', 'bob@example.org', '--password-stdin'], { HAVEN_DATA_DIR: dataDir, HAVEN_MASTER_KEY: masterKey, HAVEN_REPLICA_URL: replicaUrl }, 'bob-password-1\n');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^created account bob@example\.org\n/);

      // The replica alone (restored elsewhere) already has the account.
      const copy = join(dir, 'restored');
      await restore({ target: replicaUrl, into: copy, masterKey: Buffer.from(masterKey, 'hex') });
      const restored = Store.open({ dataDir: copy, masterKey: Buffer.from(masterKey, 'hex') });
      try {
        const bob = restored.directory.getAccount('bob@example.org');
        expect(bob?.address).toBe('bob@example.org');
        // The mailbox the node made is in the replica too, not only the directory that names it.
        expect(existsSync(join(copy, 'mailboxes', `${bob!.id}.sqlite`))).toBe(true);
      } finally {
        restored.close();
      }

      // status reports the running node and its replicator's own view.
      const st = await haven(['status', '--json'], { HAVEN_DATA_DIR: dataDir, HAVEN_MASTER_KEY: masterKey, HAVEN_REPLICA_URL: replicaUrl }, '');
      expect(st.code, st.stderr).toBe(0);
      expect(JSON.parse(st.stdout)).toMatchObject({ nodePid: process.pid, accounts: 1, replication: { enabled: true, live: { healthy: true, lastError: null } } });

      // The running node serves it without a restart.
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: node.ports.imaps!,
        secure: true,
        auth: { user: 'bob@example.org', pass: 'bob-password-1' },
        tls: { ca: readFileSync(node.certificate.certFile), servername: 'localhost' },
        logger: false,
      });
      await client.connect();
      const status = await client.status('INBOX', { messages: true });
      await client.logout();
      expect(status && status.messages).toBe(0);
    } finally {
      await node.close();
      await dns.close();
    }
  }, 60_000);
});
