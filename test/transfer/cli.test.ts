/**
 * The `haven import` and `haven export` commands as a person runs them (no
 * node running: the CLI holds the data directory): a progress line and a
 * summary on a terminal, paths relative to the working directory, and bad
 * input answered with one line saying what to do, changing nothing.
 */
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliHarness, type CliHarness } from '../cli/helpers.js';

const pw = 'a long enough account password';
let cli: CliHarness;
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'transfer');

beforeAll(async () => {
  cli = cliHarness();
  expect((await cli.run(['domain', 'add', 'example.org'])).code).toBe(0);
  expect((await cli.run(['account', 'add', 'alice@example.org', '--password-stdin'], { stdin: pw + '\n' })).code).toBe(0);
  // The harness runs commands in the data directory's parent: a relative path resolves there.
  cpSync(join(fixtures, 'odd.mboxrd'), join(cli.dataDir, '..', 'Sent.mbox'));
}, 60_000);
afterAll(() => cli.cleanup());

describe('haven import / export on a terminal', () => {
  it('imports a relative mbox path into the folder its name says, with a start line and a final summary', async () => {
    const r = await cli.run(['import', 'alice@example.org', 'Sent.mbox', '--password-stdin'], { stdin: pw + '\n' });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^importing into alice@example.org from \/.*Sent\.mbox \(job [0-9a-f]+\)$/);
    expect(r.out[r.out.length - 1]).toMatch(/^3 messages, [\d.]+\/[\d.]+ MB, \d+ msg\/s, [\d.]+ MB\/s \[done\]$/);
    const store = cli.openStore();
    try {
      const lease = await store.authenticate('alice@example.org', pw);
      // "Sent" names the account's own \Sent folder.
      expect(lease.mailbox.folders.status(lease.mailbox.folders.require('Sent').id).messages).toBe(3);
      lease.release();
    } finally {
      store.close();
    }
  });

  it('exports and says what it wrote; the manifest lists it', async () => {
    const r = await cli.run(['export', 'alice@example.org', 'out', '--password-stdin'], { stdin: pw + '\n' });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[r.out.length - 1]).toMatch(/^exported 3 messages in \d+ folders, 2 calendars, 1 address books to \/.*\/out \(manifest.json/);
    const m = JSON.parse(readFileSync(join(cli.dataDir, '..', 'out', 'manifest.json'), 'utf8')) as { folders: { name: string; messages: number }[] };
    expect(m.folders.find((f) => f.name === 'Sent')!.messages).toBe(3);
    // A second export into the same directory is refused rather than mixed in.
    const again = await cli.run(['export', 'alice@example.org', 'out', '--password-stdin'], { stdin: pw + '\n' });
    expect(again.code).toBe(1);
    expect(again.err[0]).toMatch(/already holds an export/);
  });

  it('bad input: one line saying what to do, exit 1 or 2, nothing imported', async () => {
    const missing = await cli.run(['import', 'alice@example.org', 'nope.mbox', '--password-stdin'], { stdin: pw + '\n' });
    expect(missing.code).toBe(1);
    expect(missing.err).toEqual([expect.stringMatching(/^haven: \/.*nope\.mbox does not exist/)]);
    const wrongPw = await cli.run(['import', 'alice@example.org', 'Sent.mbox', '--password-stdin'], { stdin: 'not the password\n' });
    expect(wrongPw.code).toBe(1);
    expect(wrongPw.err[0]).toMatch(/^haven: /);
    const badAs = await cli.run(['import', 'alice@example.org', 'Sent.mbox', '--as', 'zip', '--password-stdin'], { stdin: pw + '\n' });
    expect(badAs.code).toBe(2);
    const badUrl = await cli.run(['import', 'alice@example.org', 'imaps://', '--password-stdin'], { stdin: pw + '\n' });
    expect(badUrl.code).toBe(2);
    expect(badUrl.err[0]).toMatch(/not an IMAP URL/);
    const noAccount = await cli.run(['import', 'nobody@example.org', 'Sent.mbox', '--password-stdin'], { stdin: pw + '\n' });
    expect(noAccount.code).toBe(1);
    expect(noAccount.err[0]).toMatch(/no account nobody@example.org/);
    expect(existsSync(join(cli.dataDir, '..', 'nope.mbox'))).toBe(false);
  });
});
