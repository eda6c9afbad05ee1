/**
 * The password prompt on a real terminal: `script` gives bin/haven.js a
 * pseudo-terminal, the test types only after each prompt appears, and the
 * terminal transcript must not contain what was typed (no echo), while the
 * account works with it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliHarness } from './helpers.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'haven.js');
const h = cliHarness();
afterAll(() => h.cleanup());

describe('interactive password prompt', () => {
  it('asks twice on the terminal without echoing, then creates the account', async () => {
    expect((await h.run(['domain', 'add', 'example.org'])).code).toBe(0);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAVEN_')) env[k] = v;
    env.HAVEN_DATA_DIR = h.dataDir;
    const secret = 'typed-on-a-tty-42';
    const proc = spawn('script', ['-q', '-e', '-c', `${process.execPath} ${BIN} account add carol@example.org`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let transcript = '';
    const answered = new Set<string>();
    proc.stdout.on('data', (d: Buffer) => {
      transcript += d.toString();
      // Type each answer only once its prompt is on screen, as a person would.
      for (const prompt of ['Password for carol@example.org: ', 'Password for carol@example.org again: ']) {
        if (transcript.includes(prompt) && !answered.has(prompt) && transcript.lastIndexOf(prompt) === transcript.length - prompt.length) {
          answered.add(prompt);
          proc.stdin.write(secret + '\r');
        }
      }
    });
    const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
    expect(answered.size, transcript).toBe(2);
    expect(code, transcript).toBe(0);
    expect(transcript).toContain('created account carol@example.org');
    expect(transcript).toMatch(/recovery key: [a-z0-9]{4}(-[a-z0-9]{4}){7}/);
    expect(transcript).not.toContain(secret);

    const store = h.openStore();
    try {
      (await store.authenticate('carol@example.org', secret)).release();
    } finally {
      store.close();
    }

    // A confirmation answered with end-of-input (Ctrl-D) is a "no", not a hang.
    const rm = spawn('script', ['-q', '-e', '-c', `${process.execPath} ${BIN} account remove carol@example.org`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let rmText = '';
    rm.stdout.on('data', (d: Buffer) => {
      rmText += d.toString();
      if (rmText.includes('Type the address to confirm: ')) rm.stdin.write('\x04');
    });
    expect(await new Promise<number | null>((resolve) => rm.on('close', resolve)), rmText).toBe(1);
    expect(rmText).toContain('haven: the address typed does not match; nothing was removed');
  }, 60_000);
});
