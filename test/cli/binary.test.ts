/**
 * The real `haven` executable (bin/haven.js, which in a checkout runs the
 * TypeScript through tsx) in a child process: exit codes, stdout/stderr
 * separation, secrets from a piped standard input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runHavenBinary } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'haven-bin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function haven(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  return runHavenBinary(args, { stdin: opts.stdin, env: { HAVEN_DATA_DIR: join(root, 'data'), ...opts.env } });
}

describe('bin/haven.js', () => {
  it('runs commands with exit codes a script can rely on', async () => {
    const unknown = await haven(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe('haven: unknown command "frobnicate"; run `haven help` for the list of commands\n');

    const config = await haven(['status'], { env: { HAVEN_LIMITS_MAX_RECIPIENTS: '0' } });
    expect(config.code).toBe(78);
    expect(config.stderr.trim().split('\n')).toEqual([
      'haven: config: limits.maxRecipients (HAVEN_LIMITS_MAX_RECIPIENTS): got "0" from the environment; expected an integer >= 1',
    ]);

    const dom = await haven(['domain', 'add', 'example.org']);
    expect(dom.code).toBe(0);
    expect(dom.stdout).toMatch(/^added domain example\.org\n/);
    expect(dom.stderr).toMatch(/warning: generated a master key/);

    const acct = await haven(['account', 'add', 'alice@example.org', '--password-stdin', '--json'], { stdin: 'correct horse battery\n' });
    expect(acct.code).toBe(0);
    expect(acct.stderr).toBe('');
    expect(JSON.parse(acct.stdout)).toEqual({ address: 'alice@example.org', recoveryKey: expect.stringMatching(/^[a-z0-9]{4}(-[a-z0-9]{4}){7}$/) });

    // No terminal and no flag: an error, never a prompt that would hang a script.
    const noPw = await haven(['account', 'add', 'bob@example.org']);
    expect(noPw.code).toBe(2);
    expect(noPw.stderr).toMatch(/^haven: no password for bob@example\.org: give --password <value> or --password-stdin/);
  }, 60_000);
});
