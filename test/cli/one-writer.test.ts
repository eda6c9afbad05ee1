/**
 * The CLI is never a second writer (issue 15). With no node running it takes
 * the data directory's lock for the length of the command (a node started
 * meanwhile is refused); with a node holding the lock it only talks to the
 * node, and when that node does not answer it says so and touches nothing:
 * no database is opened in this process and no file changes.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode } from '../../node/main.js';
import { addDbObserver } from '../../node/store/index.js';
import { controlSocketPath, databaseFiles } from '../../node/store/layout.js';
import { DataDirBusyError, lockDataDir } from '../../node/util/data-dir-lock.js';
import { cliHarness, type CliHarness } from './helpers.js';

describe('one writer on the command line', () => {
  let h: CliHarness;
  beforeEach(() => {
    h = cliHarness();
  });
  afterEach(() => h.cleanup());

  it('holds the lock while it writes with no node running, and releases it after', async () => {
    const opened: string[] = [];
    let busyDuring: unknown = null;
    const stop = addDbObserver({
      opened: (path) => {
        opened.push(path);
        // While the command has the store open, a node cannot take the data directory.
        if (busyDuring === null) busyDuring = (() => {
          try {
            lockDataDir(h.dataDir).release();
            return 'took it';
          } catch (err) {
            return err;
          }
        })();
      },
      committed: () => {},
      closing: () => {},
    });
    try {
      const r = await h.run(['domain', 'add', 'example.org']);
      expect(r.code, r.err.join('\n')).toBe(0);
    } finally {
      stop();
    }
    expect(opened.length).toBeGreaterThan(0);
    expect(busyDuring).toBeInstanceOf(DataDirBusyError);
    // Done: the lock is free again.
    lockDataDir(h.dataDir).release();
  });

  it('with a node holding the data directory, never opens a database itself, even when the node does not answer', async () => {
    expect((await h.run(['domain', 'add', 'example.org'])).code).toBe(0);
    const before = databaseFiles(h.dataDir).map((f) => [f.name, statSync(f.path).mtimeMs, statSync(f.path).size]);
    // A "node": holds the lock, and its control socket path exists but nobody listens there.
    const node = lockDataDir(h.dataDir);
    writeFileSync(controlSocketPath(h.dataDir), '');
    const opened: string[] = [];
    const stop = addDbObserver({ opened: (path) => opened.push(path), committed: () => {}, closing: () => {} });
    try {
      for (const argv of [
        ['account', 'add', 'alice@example.org', '--password', 'alice has a long password'],
        ['account', 'list'],
        ['alias', 'add', 'info@example.org', 'alice@example.org'],
      ]) {
        const r = await h.run(argv);
        expect(r.code).toBe(1);
        expect(r.err.join('\n')).toMatch(/does not answer on its control socket .*control\.sock/);
      }
    } finally {
      stop();
      node.release();
    }
    expect(opened).toEqual([]);
    expect(databaseFiles(h.dataDir).map((f) => [f.name, statSync(f.path).mtimeMs, statSync(f.path).size])).toEqual(before);
    expect(statSync(join(h.dataDir, 'directory.sqlite')).mode & 0o777).toBe(0o600);
  });

  it('`haven certs renew` with a node running is carried out by the node', async () => {
    const node = await startNode(testConfig(h.dataDir, { dnsbl: [] }), { adminUi: false });
    try {
      const opened: string[] = [];
      const stop = addDbObserver({ opened: (path) => opened.push(path), committed: () => {}, closing: () => {} });
      let r;
      try {
        r = await h.run(['certs', 'renew', '--json']);
      } finally {
        stop();
      }
      expect(r.code, r.err.join('\n')).toBe(0);
      expect(JSON.parse(r.out[0])).toMatchObject({ result: 'current', source: 'self-signed', certFile: node.certificate.certFile, names: expect.stringContaining('localhost') });
      // No database was opened for it (the node renews with what it has open; the CLI opens nothing).
      expect(opened).toEqual([]);
    } finally {
      await node.close();
    }
  });
});
