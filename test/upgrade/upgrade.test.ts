/**
 * @module test/upgrade/upgrade
 * `haven upgrade` end to end with real releases: copies of this checkout
 * with a newer version and one more migration (the "next" schema version),
 * installed side by side, each run as its own process through its own
 * bin/haven.js. A healthy release migrates the data from the schema this
 * code writes to the next one with every row intact; a release whose
 * mailbox migration throws (after its directory migration already changed
 * the directory) is rolled back by itself: the snapshot put back, the old
 * release active, and this code opens the data exactly as before.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { upgradeCommands } from '../../node/cli/commands/upgrade.js';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { Store, openEncrypted } from '../../node/store/index.js';
import { readManifest, upgradeUnits, waitHealthy } from '../../node/upgrade/index.js';
import { createServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { unwrapKey } from '../../node/crypto/index.js';
import { addAccount, makeTestStore, sampleMessage, testTls } from '../helpers/store.js';
import { dumpMailbox } from '../replication/helpers.js';

const REPO = realpathSync(join(import.meta.dirname, '..', '..'));
const work = mkdtempSync(join(tmpdir(), 'haven-upgrade-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A release: this checkout's code under a new version, with extra migrations appended to the schema lists. */
function makeRelease(name: string, version: string, extra: { directory?: string; mailbox?: string }): string {
  const dir = join(work, 'src', name);
  mkdirSync(dir, { recursive: true });
  // The committed code when there is a repository (others may be mid-edit in a shared tree), else the files.
  const fromGit = existsSync(join(REPO, '.git')) && spawnSync('sh', ['-c', `git -C "${REPO}" archive HEAD bin node edge tsconfig.json | tar -x -C "${dir}"`]).status === 0;
  if (!fromGit) for (const p of ['bin', 'node', 'edge', 'tsconfig.json']) cpSync(join(REPO, p), join(dir, p), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, version }, null, 2));
  const append = (file: string, list: string, migration: string) => {
    const path = join(dir, file);
    const src = readFileSync(path, 'utf8');
    const at = src.indexOf('\n];', src.indexOf(`export const ${list}`));
    expect(at).toBeGreaterThan(0);
    writeFileSync(path, `${src.slice(0, at)}\n  ${migration},${src.slice(at)}`);
  };
  if (extra.directory) append('node/store/directory/schema.ts', 'directoryMigrations', extra.directory);
  if (extra.mailbox) append('node/store/mailbox/schema.ts', 'mailboxMigrations', extra.mailbox);
  return dir;
}

/** Every row of every table, so "intact" means no row changed, not just that the file opens. */
function tables(path: string, key: Buffer): { version: number; rows: Record<string, string[]> } {
  const db = openEncrypted(path, key, { readonly: true, create: false });
  try {
    const rows: Record<string, string[]> = {};
    const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
    for (const n of names) {
      rows[n] = (db.prepare(`SELECT * FROM "${n}"`).all() as Record<string, unknown>[])
        .map((r) => JSON.stringify(r, (_k, v) => (v && typeof v === 'object' && 'type' in v && v.type === 'Buffer' ? Buffer.from(v.data).toString('base64') : v)))
        .sort();
    }
    return { version: db.pragma('user_version', { simple: true }) as number, rows };
  } finally {
    db.close();
  }
}

describe('haven upgrade', () => {
  it('rolls back a release whose migration fails, then upgrades to a healthy one with every row intact', async () => {
    const t = makeTestStore();
    const store = t.store;
    const alice = await addAccount(store, 'alice@example.test');
    const bob = await store.createAccount('bob@example.test', 'bob password long', { keyMode: 'managed' });
    for (let i = 0; i < 3; i++) await store.deliver(bob.account.id, sampleMessage({ to: 'bob@example.test', subject: `upgrade ${i}` }));
    await store.deliver(alice.account.id, sampleMessage({ subject: 'sealed' }));
    const bobKey = await unwrapKey(store.directory.wraps(bob.account.id).find((w) => w.kind === 'master')!.wrapped, t.masterKey);
    const beforeBob = await dumpMailbox(store, 'bob@example.test', 'bob password long');
    store.close();
    const dirPath = join(t.dataDir, 'directory.sqlite');
    const bobPath = join(t.dataDir, 'mailboxes', `${bob.account.id}.sqlite`);
    const alicePath = join(t.dataDir, 'mailboxes', `${alice.account.id}.sqlite`);
    const before = { directory: tables(dirPath, t.masterKey), bob: tables(bobPath, bobKey), alice: readFileSync(alicePath) };

    const root = join(work, 'root');
    // Every port 0: the trial start of a release takes free ports and announces them.
    const ports = Object.fromEntries(['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAP', 'IMAPS', 'POP3', 'POP3S', 'HTTP', 'HTTPS', 'ADMIN'].map((p) => [`HAVEN_PORTS_${p}`, '0']));
    const env = { HAVEN_DATA_DIR: t.dataDir, HAVEN_MASTER_KEY: t.masterKey.toString('hex'), ...ports };
    const cli = async (...argv: string[]) => {
      const io = memoryIo({ env: { ...env } });
      const code = await runCli(argv, io, upgradeCommands);
      return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
    };

    const broken = makeRelease('broken', '0.3.0', {
      directory: "(db) => db.exec('CREATE TABLE upgrade_probe(id INTEGER PRIMARY KEY)')",
      mailbox: "() => { throw new Error('broken release: mailbox migration fails') }",
    });

    // 0. A node still listening on the data (here: something on its SMTP port) stops the upgrade before it starts.
    const squatter = createNetServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const busyPort = (squatter.address() as AddressInfo).port;
    const busy = memoryIo({ env: { ...env, HAVEN_PORTS_SMTP: String(busyPort) } });
    expect(await runCli(['upgrade', broken, '--root', root], busy, upgradeCommands)).toBe(1);
    expect(busy.stderr.join('\n')).toMatch(new RegExp(`node is still running .*port ${busyPort} answers`));
    const busyMigrate = memoryIo({ env: { ...env, HAVEN_PORTS_SMTP: String(busyPort) } });
    expect(await runCli(['migrate'], busyMigrate, upgradeCommands)).toBe(1);
    squatter.close();
    expect(tables(dirPath, t.masterKey)).toEqual(before.directory);

    // 1. An unhealthy release: its directory migration succeeds, its mailbox migration throws.
    const failed = await cli('upgrade', broken, '--root', root, '--json');
    expect(failed.code, failed.err).toBe(1);
    const rb = JSON.parse(failed.out);
    expect(rb).toMatchObject({ outcome: 'rolled-back', attempted: { version: '0.3.0' } });
    expect(rb.reason).toMatch(/broken release: mailbox migration fails/);
    expect(failed.err).toMatch(/verified snapshot of 4 database\(s\)/);
    // The snapshot was checked with keys where the node has them.
    const manifest = readManifest(rb.snapshot);
    expect(Object.fromEntries(manifest.files.map((f) => [f.rel, f.checked]))).toEqual({
      'directory.sqlite': 'integrity_check',
      'spool.sqlite': 'integrity_check',
      [`mailboxes/${alice.account.id}.sqlite`]: 'structure',
      [`mailboxes/${bob.account.id}.sqlite`]: 'integrity_check',
    });
    // Data exactly as before: same schema version, same rows; the old release is active and opens it.
    expect(tables(dirPath, t.masterKey)).toEqual(before.directory);
    expect(tables(bobPath, bobKey)).toEqual(before.bob);
    expect(readFileSync(alicePath).equals(before.alice)).toBe(true);
    expect(realpathSync(join(root, 'current'))).toBe(REPO);
    const s1 = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey });
    expect(await dumpMailbox(s1, 'bob@example.test', 'bob password long')).toEqual(beforeBob);
    s1.close();

    // 2. A healthy release one schema version ahead: every database this node can open moves to it.
    const next = makeRelease('next', '0.2.0', {
      directory: "(db) => db.exec('CREATE TABLE upgrade_probe(id INTEGER PRIMARY KEY)')",
      mailbox: "(db) => db.exec('CREATE TABLE upgrade_probe(id INTEGER PRIMARY KEY)')",
    });
    const ok = await cli('upgrade', next, '--root', root, '--json');
    expect(ok.code, ok.err).toBe(0);
    const up = JSON.parse(ok.out);
    expect(up).toMatchObject({ outcome: 'upgraded', to: { version: '0.2.0' } });
    expect(ok.err).toMatch(/0\.2\.0 started and answered \/health/);
    const versions = Object.fromEntries(up.migrate.databases.map((d: { db: string; userVersion: number }) => [d.db, d.userVersion]));
    expect(versions.directory).toBe(before.directory.version + 1);
    expect(versions[`mailbox-${bob.account.id}`]).toBe(before.bob.version + 1);
    expect(up.migrate.deferred).toBe(1); // alice is zero-access: she migrates at her next login
    expect(realpathSync(join(root, 'current'))).toBe(up.to.dir);
    expect(realpathSync(join(root, 'previous'))).toBe(REPO);
    // Every row that was there is still there; the new version added only its table.
    const after = { directory: tables(dirPath, t.masterKey), bob: tables(bobPath, bobKey) };
    expect(after.directory.version).toBe(before.directory.version + 1);
    // (The trial start of the new release may add its own settings, such as its SRS secret: added, never changed.)
    const { settings, ...afterRest } = after.directory.rows;
    const { settings: settingsBefore, ...beforeRest } = before.directory.rows;
    expect(afterRest).toEqual({ ...beforeRest, upgrade_probe: [] });
    expect(settings).toEqual(expect.arrayContaining(settingsBefore));
    expect(after.bob.rows).toEqual({ ...before.bob.rows, upgrade_probe: [] });
    // This (older) code now refuses the newer data rather than misreading it.
    expect(() => Store.open({ dataDir: t.dataDir, masterKey: t.masterKey })).toThrow(/schema version/);

    // 3. The same release again: nothing to do.
    const again = await cli('upgrade', next, '--root', root);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/already running 0.2.0/);
    expect(existsSync(join(root, 'releases'))).toBe(true);
    t.cleanup();
  }, 90_000);

  it('writes a systemd service and timer that run the upgrade', async () => {
    const dir = join(work, 'units');
    const io = memoryIo({ env: {} });
    expect(await runCli(['upgrade', 'timer', 'https://example.org/haven-latest.tgz', '--root', '/opt/haven', '--dir', dir, '--environment-file', '/etc/haven/haven.env'], io, upgradeCommands)).toBe(0);
    const service = readFileSync(join(dir, 'haven-upgrade.service'), 'utf8');
    expect(service).toContain('ExecStart=/opt/haven/current/bin/haven.js upgrade https://example.org/haven-latest.tgz --root /opt/haven --service haven.service');
    expect(service).toContain('EnvironmentFile=/etc/haven/haven.env');
    expect(readFileSync(join(dir, 'haven-upgrade.timer'), 'utf8')).toMatch(/OnCalendar=\*-\*-\* 03:30:00\nRandomizedDelaySec=30min\nPersistent=true/);
    expect(upgradeUnits({ source: 'a b', bin: '/x', root: '/r', service: 's' })['haven-upgrade.service']).toContain('upgrade "a b" --root /r');
  });

  it('waits for /health over HTTPS (self-signed accepted) and reports what it last saw when it never turns healthy', async () => {
    let calls = 0;
    let healthyAfter = 2;
    let report = '';
    const server = createServer(testTls(), (req, res) => {
      calls++;
      res.writeHead(req.url === '/health' && calls > healthyAfter ? 200 : 503, { 'content-type': 'application/json' }).end(report);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    try {
      expect(await waitHealthy(url, 10_000)).toBe(true);
      expect(calls).toBe(3);
      healthyAfter = Infinity;
      expect(await waitHealthy(url, 1_500)).toMatch(/not healthy within 2 s \(last: HTTP 503\)/);
      // 503 because of something outside the release (here the replica) while the store answers: healthy enough.
      report = JSON.stringify({ ok: false, store: { ok: true }, replication: { enabled: true, ok: false } });
      expect(await waitHealthy(url, 1_500)).toBe(true);
      report = JSON.stringify({ ok: false, store: { ok: false, error: 'the directory database does not answer' } });
      expect(await waitHealthy(url, 1_500)).toMatch(/last: HTTP 503/);
    } finally {
      server.close();
    }
  });
});
