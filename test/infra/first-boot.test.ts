/**
 * @module test/infra/first-boot
 * A rebuilt server comes back from its replica with nobody logged in: a
 * node replicates mail to a local file replica; then the files the rendered
 * cloud-config writes are laid out under a scratch root (the fresh volume
 * mounted empty at the data directory), systemd's LoadCredential= is done
 * as the unit says, and the unit's start command's first-boot path runs in
 * its own process with the EnvironmentFile's variables. The restored data
 * directory holds every mailbox, readable with the owners' passwords.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_PATH, DATA_DIR, ENV_PATH, HAVEN_BIN, RUNTIME_CREDENTIALS_DIR, renderCloudInit } from '../../infra/cloud-init.js';
import { replicate } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, makeTestStore, sampleMessage } from '../helpers/store.js';

const run = promisify(execFile);
const FIXTURE = join(import.meta.dirname, 'fixtures', 'first-boot.ts');
const scratch = mkdtempSync(join(tmpdir(), 'haven-first-boot-'));
const replicaDir = join(scratch, 'replica');
const root = join(scratch, 'root');
const at = (p: string) => join(root, p);

type Doc = { write_files: { path: string; content: string; permissions: string }[] };

let masterKeyHex = '';
const ALICE = { address: 'alice@example.test', password: 'alice password long' };
const BOB = { address: 'bob@example.test', password: 'bob password long' };

/** Starts the unit's first-boot path as systemd would; returns its JSON line. */
async function boot(unit: string): Promise<Record<string, unknown>> {
  const envFile = /^EnvironmentFile=(.+)$/m.exec(unit)![1];
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', CREDENTIALS_DIRECTORY: at(RUNTIME_CREDENTIALS_DIR) };
  for (const line of readFileSync(at(envFile), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)="(.*)"$/.exec(line);
    if (m) env[m[1]] = m[2].replace(/\\(["\\])/g, '$1');
  }
  const execStart = /^ExecStart=(.+)$/m.exec(unit)![1].split(' ');
  expect(execStart).toEqual([HAVEN_BIN, 'start', '--config', CONFIG_PATH]);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE, ...execStart.slice(2, 3), at(execStart[3])], { env, cwd: join(import.meta.dirname, '..', '..') });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

let unit = '';

beforeAll(async () => {
  // 1. A running node replicating to the replica: a zero-access and a managed account with mail.
  const t = makeTestStore();
  masterKeyHex = t.masterKey.toString('hex');
  const rep = replicate({ url: `file://${replicaDir}`, dataDir: t.dataDir, log: silentLogger, retentionCheckMs: 0 });
  const store = t.reopen();
  const alice = await addAccount(store, ALICE.address, ALICE.password);
  const bob = await store.createAccount(BOB.address, BOB.password, { keyMode: 'managed' });
  const lease = await store.authenticate(ALICE.address, ALICE.password);
  for (let i = 0; i < 3; i++) await store.deliver(alice.account.id, sampleMessage({ subject: `first boot ${i}`, body: `alice message ${i}` }));
  lease.release();
  for (let i = 0; i < 2; i++) await store.deliver(bob.account.id, sampleMessage({ to: BOB.address, subject: `bob ${i}` }));
  await rep.flush();
  store.close();
  await rep.stop();
  t.cleanup(); // the old server is gone

  // 2. The new server: cloud-init writes its files; the volume is mounted, empty, at the data directory.
  const doc = parseYaml(
    renderCloudInit({
      mailHost: 'mail.example.test',
      volumeId: '4242',
      havenRelease: 'haven@0.1.0',
      pop3: false,
      acmeEmail: 'postmaster@example.test',
      replicaUrl: `file://${replicaDir}`,
      dkimKeys: [],
      secrets: { masterKey: masterKeyHex, edgeSecret: 'e'.repeat(40), smarthost: '', replicaAccessKeyId: '', replicaSecretAccessKey: '' },
    }),
  ) as Doc;
  for (const f of doc.write_files) {
    mkdirSync(dirname(at(f.path)), { recursive: true });
    // The config names absolute paths on the server; here they live under the scratch root.
    const content = f.path === CONFIG_PATH ? f.content.replaceAll(DATA_DIR, at(DATA_DIR)).replaceAll(RUNTIME_CREDENTIALS_DIR, at(RUNTIME_CREDENTIALS_DIR)) : f.content;
    writeFileSync(at(f.path), content, { mode: parseInt(f.permissions, 8) });
  }
  mkdirSync(at(DATA_DIR), { recursive: true, mode: 0o700 });
  unit = doc.write_files.find((f) => f.path === '/etc/systemd/system/haven.service')!.content;
  // systemd's LoadCredential=<name>:<file>: a copy under the service's credentials directory.
  mkdirSync(at(RUNTIME_CREDENTIALS_DIR), { recursive: true, mode: 0o700 });
  for (const m of unit.matchAll(/^LoadCredential=([^:\n]+):(.+)$/gm)) copyFileSync(at(m[2]), join(at(RUNTIME_CREDENTIALS_DIR), m[1]));
}, 60_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('first boot of a rebuilt server', () => {
  it('the unit reads its secrets from the files cloud-init wrote, not from its config', () => {
    expect(unit).toContain(`EnvironmentFile=${ENV_PATH}`);
    expect(readdirSync(at(RUNTIME_CREDENTIALS_DIR))).toEqual(['master-key']);
  });

  it('restores every database from the replica into the empty data directory', async () => {
    const r = await boot(unit);
    expect(r.restored).toBe(true);
    // directory, spool and two mailboxes at least
    expect(r.databases).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('finds the restored mailboxes, readable with their owners\' passwords', async () => {
    const store = Store.open({ dataDir: at(DATA_DIR), masterKey: Buffer.from(masterKeyHex, 'hex') });
    try {
      expect(store.directory.listAccounts().map((a) => a.address).sort()).toEqual([ALICE.address, BOB.address]);
      for (const [who, n] of [
        [ALICE, 3],
        [BOB, 2],
      ] as const) {
        const lease = await store.authenticate(who.address, who.password);
        const inbox = lease.mailbox.folders.require('INBOX');
        const subjects = lease.mailbox.messages.list(inbox.id).map((m) => lease.mailbox.messages.parsed(m.blobId).envelope.subject);
        lease.release();
        expect(subjects).toHaveLength(n);
        if (who === ALICE) expect(subjects).toEqual(['first boot 0', 'first boot 1', 'first boot 2']);
      }
      await expect(store.authenticate(ALICE.address, 'wrong password')).rejects.toThrow(/password/i);
    } finally {
      store.close();
    }
  });

  it('a later boot on the same volume does not restore again', async () => {
    expect(await boot(unit)).toEqual({ restored: false, reason: 'not-empty' });
  }, 60_000);
});
