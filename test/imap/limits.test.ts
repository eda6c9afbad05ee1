/**
 * Limits: connections per IP and per account, commands per second, idle
 * timeout before login; and COMPRESS=DEFLATE carrying a whole session.
 */
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture({ limits: { maxConnectionsPerIp: 3, maxConnectionsPerAccount: 2, commandsPerSecond: 20 } });
});
afterAll(async () => f.close());

describe('limits', () => {
  it('refuses a connection past the per-IP limit and a login past the per-account limit', async () => {
    const a = await Raw.connect(f.port);
    const b = await Raw.connect(f.port);
    await login(a, f);
    await login(b, f);
    const c = await Raw.connect(f.port);
    expect(await c.cmd('l', `LOGIN ${f.address} "${f.password}"`)).toMatch(/^l NO \[LIMIT\] too many connections to this account/);
    // The fourth connection from this IP is turned away at the greeting.
    const net = await import('node:net');
    const d = net.connect(f.port, '127.0.0.1');
    const greeting = await new Promise<string>((resolve) => d.once('data', (x) => resolve(String(x))));
    expect(greeting).toMatch(/^\* BYE too many connections from your address/);
    d.destroy();
    // Once one logs out, the account has room again.
    await a.cmd('o', 'LOGOUT');
    await new Promise((r) => a.socket.once('close', r));
    expect(await c.cmd('l2', `LOGIN ${f.address} "${f.password}"`)).toMatch(/^l2 OK/);
    b.close();
    c.close();
  });

  it('slows a client that sends too many commands a second', async () => {
    const a = await Raw.connect(f.port);
    a.write(Array.from({ length: 40 }, (_, i) => `n${i} NOOP\r\n`).join(''));
    await a.until((b) => b.includes('n39 '));
    const out = a.take();
    expect(out).toMatch(/n\d+ NO \[LIMIT\] more than 20 commands a second; slow down/);
    expect(out).toContain('n0 OK NOOP completed');
    a.close();
  });

  it('says BYE to a client idle before login', async () => {
    const g = await startFixture({ limits: { preauthTimeoutMs: 300 } });
    try {
      const a = await Raw.connect(g.port);
      await new Promise((r) => a.socket.once('close', r));
      expect(a.take()).toContain('* BYE idle too long');
    } finally {
      await g.close();
    }
  });
});

describe('COMPRESS=DEFLATE', () => {
  it('runs the rest of the session compressed', async () => {
    const a = await Raw.connect(f.port);
    await login(a, f);
    expect(await a.cmd('z', 'COMPRESS DEFLATE')).toBe('z OK DEFLATE active\r\n');
    const deflate = zlib.createDeflateRaw();
    const inflate = zlib.createInflateRaw();
    a.socket.removeAllListeners('data');
    a.socket.on('data', (b) => inflate.write(b));
    let text = '';
    inflate.on('data', (b: Buffer) => (text += b.toString()));
    deflate.on('data', (b: Buffer) => a.socket.write(b));
    const send = (s: string) => {
      deflate.write(s);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    };
    const until = (s: string) => new Promise<void>((resolve) => {
      const check = () => (text.includes(s) ? resolve() : inflate.once('data', check));
      check();
    });
    send('c CAPABILITY\r\n');
    await until('c OK CAPABILITY completed\r\n');
    expect(text).not.toContain('COMPRESS=DEFLATE');
    send('s SELECT INBOX\r\n');
    await until('s OK [READ-WRITE]');
    send('z2 COMPRESS DEFLATE\r\n');
    await until('z2 ');
    expect(text).toContain('z2 NO [COMPRESSIONACTIVE]');
    a.close();
  });
});
