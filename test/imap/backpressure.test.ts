/**
 * A client that stops reading in the middle of a large FETCH: the server
 * waits for it instead of buffering the whole answer, other sessions carry
 * on meanwhile (here one expunges every message), and when the reader
 * resumes the FETCH completes OK with the messages that are gone skipped;
 * the EXPUNGEs follow at the next command that may carry them. Also the
 * idle timeout: a session idle past it (IDLE included) gets BYE.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

const COUNT = 60;
let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture();
  const lease = await f.t.store.authenticate(f.address, f.password);
  const inbox = lease.mailbox.folders.require('INBOX').id;
  const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n';
  const body = line.repeat(Math.ceil(300_000 / line.length));
  const msgs = Array.from({ length: COUNT }, (_, i) => ({
    raw: Buffer.from(`Subject: big ${i}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}`),
  }));
  lease.mailbox.messages.appendMany(inbox, msgs);
  lease.release();
});
afterAll(async () => f.close());

describe('a slow reader', () => {
  it('is waited for, does not hold up other sessions, and gets OK without the messages expunged meanwhile', async () => {
    const s = net.connect(f.port, '127.0.0.1');
    let fetches = 0;
    let tail = '';
    let wake: (() => void) | null = null;
    s.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      const count = (t: string) => t.split(' FETCH (UID ').length - 1;
      fetches += count(text) - count(tail);
      tail = text.slice(-512);
      wake?.();
    });
    const until = async (pred: () => boolean) => {
      while (!pred()) await new Promise<void>((r) => (wake = r));
    };
    const send = (line: string) => s.write(line + '\r\n');
    await until(() => tail.includes('* OK'));
    send(`a LOGIN ${f.address} "${f.password}"`);
    await until(() => tail.includes('a OK'));
    send('b SELECT INBOX');
    await until(() => tail.includes('b OK'));

    const other = await Raw.connect(f.port);
    await login(other, f);
    await other.cmd('s', 'SELECT INBOX');

    // The reader stops reading at once, so the kernel's buffers stay small (an 18 MB answer cannot fit).
    s.pause();
    send('f FETCH 1:* BODY.PEEK[]');
    // A round trip on another connection: the server has taken the FETCH (sent first) by then.
    expect(await other.cmd('n', 'NOOP')).toBe('n OK NOOP completed\r\n');
    // While the reader sleeps, another session removes everything.
    expect(await other.cmd('d', 'STORE 1:* +FLAGS.SILENT (\\Deleted)')).toBe('d OK STORE completed\r\n');
    expect(await other.cmd('x', 'EXPUNGE')).toMatch(new RegExp(`\\* 1 EXPUNGE\\r\\n[\\s\\S]*x OK EXPUNGE completed\\r\\n$`));
    other.close();

    s.resume();
    await until(() => /\r\nf (OK|NO|BAD)[^\r]*\r\n/.test(tail));
    expect(tail).toMatch(/\r\nf OK FETCH completed\r\n$/);
    // Some were sent before the expunge; the rest were skipped, never sent empty or failed.
    expect(fetches).toBeGreaterThan(0);
    expect(fetches).toBeLessThan(COUNT);
    let rest = '';
    s.removeAllListeners('data');
    s.on('data', (d: Buffer) => {
      rest += d.toString('latin1');
      wake?.();
    });
    send('n NOOP');
    await until(() => rest.includes('n OK'));
    expect(rest.split(' EXPUNGE\r\n').length - 1).toBe(COUNT);
    expect(rest.endsWith('n OK NOOP completed\r\n')).toBe(true);
    s.destroy();
  });
});

describe('idle timeout', () => {
  it('says BYE to a logged-in session idle past the limit, IDLE included', async () => {
    const g = await startFixture({ limits: { idleTimeoutMs: 400 } });
    try {
      const a = await Raw.connect(g.port);
      await login(a, g);
      await a.cmd('s', 'SELECT INBOX');
      a.write('i IDLE\r\n');
      await a.until((b) => b.includes('+ idling'));
      await new Promise((r) => a.socket.once('close', r));
      expect(a.take()).toContain('* BYE idle too long');
    } finally {
      await g.close();
    }
  });
});
