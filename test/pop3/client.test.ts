/**
 * @module test/pop3/client
 * A real POP3 client library (node-pop3) against the server, over implicit
 * TLS and plain TCP: UIDL, LIST, STAT, TOP, RETR, DELE, RSET, QUIT.
 */
import Pop3Command from 'node-pop3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CA, numberedMessage, RawClient, startFixture, type Pop3Fixture } from './helpers.js';

describe('node-pop3 client', () => {
  let f: Pop3Fixture;
  let msgs: Buffer[];
  beforeAll(async () => {
    f = await startFixture();
    msgs = [numberedMessage(4, 'first'), numberedMessage(8, 'second'), Buffer.from('Subject: dotty\r\n\r\n.hidden?\r\nok\r\n')];
    await f.deliver(msgs);
  });
  afterAll(() => f.close());

  const client = (tls: boolean) =>
    new Pop3Command({
      host: '127.0.0.1',
      port: tls ? f.implicit.port : f.plain.port,
      tls,
      servername: 'localhost',
      tlsOptions: { ca: CA },
      user: f.address,
      password: f.password,
    });

  it('reads the maildrop over implicit TLS', async () => {
    const pop = client(true);
    expect(await pop.STAT()).toBe(`3 ${msgs.reduce((n, m) => n + m.length, 0)}`);
    const list = (await pop.LIST()) as string[][];
    expect(list).toEqual(msgs.map((m, i) => [String(i + 1), String(m.length)]));
    const uidl = (await pop.UIDL()) as string[][];
    expect(uidl.map((u) => u[0])).toEqual(['1', '2', '3']);
    expect(new Set(uidl.map((u) => u[1])).size).toBe(3);
    // node-pop3 drops the CRLF before the terminator along with it.
    expect((await pop.RETR(1)) + '\r\n').toBe(msgs[0].toString());
    const top = await pop.TOP(2, 3);
    expect(top).toContain('Subject: second\r\n');
    expect(top.endsWith('\r\n\r\nline 1\r\nline 2\r\nline 3')).toBe(true);
    expect(top).not.toContain('line 4');
    // node-pop3 does not un-stuff dots; the wire carries the stuffed line.
    expect(await pop.RETR(3)).toContain('\r\n..hidden?\r\n');
    expect(await pop.QUIT()).toMatch(/^0 messages deleted/);
  });

  it('DELE, RSET and DELE again, applied at QUIT over plain TCP on loopback', async () => {
    const pop = client(false);
    expect(await pop.DELE(1)).toBe('message 1 deleted');
    await pop.RSET();
    expect(await pop.STAT()).toMatch(/^3 /);
    expect(await pop.DELE(2)).toBe('message 2 deleted');
    await expect(pop.RETR(2)).rejects.toThrow(/marked deleted/);
    expect(await pop.QUIT()).toBe('1 messages deleted; goodbye');

    const again = client(false);
    const uidl = (await again.UIDL()) as string[][];
    expect(uidl.length).toBe(2);
    expect(await again.RETR(2)).toContain('Subject: dotty');
    await again.QUIT();
  });

  it('refuses a wrong password with an AUTH response code', async () => {
    const pop = new Pop3Command({ host: '127.0.0.1', port: f.plain.port, user: f.address, password: 'wrong-password' });
    await expect(pop.STAT()).rejects.toThrow(/\[AUTH\] wrong user name or password/);
    await pop.QUIT().catch(() => undefined);
    // The raw client confirms the server is still serving after the client library gave up.
    const c = await RawClient.connect(f.plain.port);
    expect(await c.line()).toMatch(/^\+OK/);
    c.destroy();
  });
});
