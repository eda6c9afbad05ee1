/**
 * `haven start` in-process with a configured master key (as on a server)
 * and POP3 off: no POP3 listener, no key is generated, no first account is made for anyone, the banner says
 * how to add one, and a stop signal ends the command with exit 0.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { OPTIONS } from '../../node/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'haven-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('haven start with a configured master key', () => {
  it('makes no key and no account, prints how to add one, and stops on a signal', async () => {
    const env: Record<string, string> = { HAVEN_DATA_DIR: join(dir, 'data'), HAVEN_MASTER_KEY: randomBytes(32).toString('hex'), HAVEN_DNSBL: '', HAVEN_LOG_LEVEL: 'silent', HAVEN_POP3_ENABLED: 'false' };
    for (const name of Object.keys(OPTIONS.ports)) env[`HAVEN_PORTS_${name.toUpperCase()}`] = '0';
    const io = memoryIo({ env });
    const ready = new Promise<void>((resolve) => {
      const out = io.out;
      io.out = (line) => {
        out(line);
        if (line.startsWith('ready;')) resolve();
      };
    });
    const exit = runCli(['start'], io);
    await Promise.race([ready, exit.then((code) => Promise.reject(new Error(`start exited ${code}: ${io.stderr.join('\n')}`)))]);

    const text = io.stdout.join('\n');
    expect(text).toMatch(/^accounts: {5}none yet; add one with `haven account add <address>`$/m);
    expect(text).not.toMatch(/first account|password:/);
    expect(text).not.toMatch(/^master key:/m);
    expect(text).toMatch(/^admin UI: {5}http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(existsSync(join(dir, 'data', 'master.key'))).toBe(false);
    expect(text).toMatch(/^ {2}\(POP3 is off: pop3\.enabled\)$/m);
    expect(text).not.toMatch(/^ {2}pop3s? /m);
    expect(text).toMatch(/^ {2}imaps +127\.0\.0\.1:\d+ /m);

    io.stop('SIGTERM');
    expect(await exit).toBe(0);
    expect(io.stderr).toEqual(['haven: stopped (SIGTERM)']);
    expect(existsSync(join(dir, 'data', 'node.pid'))).toBe(false);
  }, 60_000);
});
