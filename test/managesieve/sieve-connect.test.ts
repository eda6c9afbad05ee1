/**
 * ManageSieve with a real independent client: Debian's sieve-connect
 * (STARTTLS, then AUTHENTICATE PLAIN with an app password) uploads, checks,
 * lists, activates, downloads, deactivates and deletes scripts (RFC 5804
 * §2.1, §2.2, §2.6-2.12). Needs the `sieve-connect` package (.ci/run).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, startFixture } from './helpers.js';

let f: Fixture;
let dir: string;
let appPassword: string;

beforeAll(async () => {
  f = await startFixture();
  dir = mkdtempSync(join(tmpdir(), 'haven-sieve-connect-'));
  appPassword = (await f.t.store.addAppPassword(f.address, 'sieve-connect', f.password)).password;
});
afterAll(async () => {
  await f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs sieve-connect with the password on fd 3; resolves with its exit code and output. */
function sieveConnect(args: string[], password = appPassword): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sieve-connect',
      ['--server', '127.0.0.1', '--port', String(f.port), '--nosrv', '--user', f.address, '--authmech', 'PLAIN', '--passwordfd', '3', '--notlsverify', ...args],
      { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    (child.stdio[3] as NodeJS.WritableStream).end(password + '\n');
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('sieve-connect', () => {
  it('uploads, checks, lists, activates, downloads, deactivates and deletes a script', async () => {
    const script = 'require ["fileinto", "vacation"];\nif header :contains "subject" "[list]" { fileinto "Lists"; }\nvacation :days 3 "Away.";\n';
    const local = join(dir, 'work.sieve');
    writeFileSync(local, script);

    expect(await sieveConnect(['--checkscript', '--localsieve', local])).toMatchObject({ code: 0 });
    const up = await sieveConnect(['--upload', '--localsieve', local, '--remotesieve', 'work']);
    expect(up.code, up.out).toBe(0);
    expect(f.t.store.directory.sieve.get(f.accountId, 'work')).toBe(script);

    expect((await sieveConnect(['--activate', '--remotesieve', 'work'])).code).toBe(0);
    expect(f.t.store.directory.sieve.active(f.accountId)?.name).toBe('work');
    const list = await sieveConnect(['--list']);
    expect(list.out).toBe('"work" ACTIVE\n');

    const back = join(dir, 'back.sieve');
    expect((await sieveConnect(['--download', '--remotesieve', 'work', '--localsieve', back])).code).toBe(0);
    expect(readFileSync(back, 'utf8')).toBe(script);

    expect((await sieveConnect(['--deactivate'])).code).toBe(0);
    expect(f.t.store.directory.sieve.active(f.accountId)).toBeNull();
    expect((await sieveConnect(['--delete', '--remotesieve', 'work'])).code).toBe(0);
    expect(f.t.store.directory.sieve.list(f.accountId)).toEqual([]);
  });

  it('reports a script error with its line, and stores nothing', async () => {
    const local = join(dir, 'bad.sieve');
    writeFileSync(local, 'require "fileinto";\nfileinto "x"\n');
    const r = await sieveConnect(['--upload', '--localsieve', local, '--remotesieve', 'bad']);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('line 3, column 1');
    expect(f.t.store.directory.sieve.get(f.accountId, 'bad')).toBeNull();
  });

  it('fails to log in with a wrong password', async () => {
    const r = await sieveConnect(['--list'], 'not-the-password');
    expect(r.code).not.toBe(0);
  });
});
