/**
 * Session state machine over raw sockets: TLS gates on login, STARTTLS and
 * implicit TLS, LOGIN and AUTHENTICATE PLAIN (SASL-IR and continuation),
 * wrong-state and malformed commands answered BAD without a state change.
 */
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
let strict: ImapFixture;
let implicit: ImapFixture;
beforeAll(async () => {
  [f, strict, implicit] = await Promise.all([startFixture(), startFixture({ allowPlaintextOnLoopback: false }), startFixture({ implicitTls: true })]);
});
afterAll(async () => Promise.all([f.close(), strict.close(), implicit.close()]));

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');

describe('before TLS', () => {
  it('advertises STARTTLS and LOGINDISABLED and refuses passwords', async () => {
    const raw = await Raw.connect(strict.port);
    const cap = await raw.cmd('c', 'CAPABILITY');
    expect(cap).toMatch(/\* CAPABILITY .*STARTTLS.*LOGINDISABLED/);
    expect(cap).not.toContain('AUTH=PLAIN');
    expect(await raw.cmd('l', `LOGIN ${strict.address} x`)).toContain('l NO [PRIVACYREQUIRED]');
    expect(await raw.cmd('a', `AUTHENTICATE PLAIN ${plain(strict.address, strict.password)}`)).toContain('a NO [PRIVACYREQUIRED]');
    raw.close();
  });

  it('a client that leaves during the STARTTLS handshake (gone, or not speaking TLS) is closed quietly', async () => {
    for (const leave of [(sock: import('node:net').Socket) => sock.end(), (sock: import('node:net').Socket) => sock.write('this is not a TLS ClientHello\r\n')]) {
      const raw = await Raw.connect(strict.port);
      raw.write('s STARTTLS\r\n');
      expect(await raw.reply('s')).toBe('s OK begin TLS now\r\n');
      const sock = raw.socket as import('node:net').Socket;
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      leave(sock);
      // The server hangs up; test/setup.ts fails this test if the failed handshake reached the catch-all.
      await closed;
      expect(raw.take()).not.toContain('SERVERBUG');
    }
  });

  it('upgrades with STARTTLS, drops pipelined plaintext, then logs in with SASL-IR', async () => {
    const raw = await Raw.connect(strict.port);
    // The NOOP pipelined behind STARTTLS must never be executed.
    raw.write('s STARTTLS\r\nevil NOOP\r\n');
    expect(await raw.reply('s')).toBe('s OK begin TLS now\r\n');
    raw.take();
    await raw.startTls();
    const cap = await raw.cmd('c', 'CAPABILITY');
    expect(cap).toContain('AUTH=PLAIN');
    expect(cap).not.toContain('STARTTLS');
    expect(cap).not.toContain('evil');
    const bad = await raw.cmd('a0', `AUTHENTICATE PLAIN ${plain(strict.address, 'wrong')}`);
    expect(bad).toBe('a0 NO [AUTHENTICATIONFAILED] wrong address or password; check them, or use an app password\r\n');
    const ok = await raw.cmd('a1', `AUTHENTICATE PLAIN ${plain(strict.address, strict.password)}`);
    expect(ok).toMatch(/^a1 OK \[CAPABILITY IMAP4rev2 .*CONDSTORE.*\] logged in\r\n$/);
    expect(await raw.cmd('a2', 'STARTTLS')).toContain('a2 BAD');
    raw.close();
  });
});

describe('loopback plaintext when configured', () => {
  it('offers AUTH=PLAIN without LOGINDISABLED on loopback, and takes app passwords by LOGIN and AUTHENTICATE', async () => {
    const g = await startFixture({ allowPlaintextOnLoopback: true });
    try {
      const app = await g.t.store.addAppPassword(g.address, 'laptop', g.password);
      const raw = await Raw.connect(g.port);
      const cap = await raw.cmd('c', 'CAPABILITY');
      expect(cap).toContain('AUTH=PLAIN');
      expect(cap).not.toContain('LOGINDISABLED');
      expect(await raw.cmd('l', `LOGIN ${g.address} "${app.password}"`)).toMatch(/^l OK \[CAPABILITY /);
      raw.close();
      const r2 = await Raw.connect(g.port);
      expect(await r2.cmd('a', `AUTHENTICATE PLAIN ${plain(g.address, app.password)}`)).toMatch(/^a OK \[CAPABILITY /);
      expect(await r2.cmd('s', 'STATUS INBOX (MESSAGES)')).toBe('* STATUS INBOX (MESSAGES 0)\r\ns OK STATUS completed\r\n');
      r2.close();
    } finally {
      await g.close();
    }
  });
});

describe('implicit TLS', () => {
  it('greets over TLS and takes AUTHENTICATE with a continuation', async () => {
    const s = tls.connect({ port: implicit.port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' });
    let buf = '';
    const wait = (re: RegExp) =>
      new Promise<void>((resolve) => {
        const check = () => (re.test(buf) ? resolve() : s.once('data', (b) => ((buf += b), check())));
        check();
      });
    await wait(/\* OK \[CAPABILITY [^\]]*AUTH=PLAIN[^\]]*\] Haven IMAP ready\r\n/);
    expect(s.getProtocol()).toMatch(/TLSv1\.[23]/);
    s.write('a AUTHENTICATE PLAIN\r\n');
    await wait(/\+ \r\n/);
    s.write(plain(implicit.address, implicit.password) + '\r\n');
    await wait(/a OK \[CAPABILITY/);
    s.write('b LOGOUT\r\n');
    await wait(/b OK LOGOUT completed\r\n/);
    expect(buf).toContain('* BYE logging out\r\n');
    s.destroy();
  });
});

describe('states and errors', () => {
  it('answers wrong-state and malformed commands BAD and keeps going', async () => {
    const raw = await Raw.connect(f.port);
    expect(await raw.cmd('x1', 'SELECT INBOX')).toBe('x1 BAD SELECT needs a login first\r\n');
    expect(await raw.cmd('x2', 'FROBNICATE')).toMatch(/^x2 BAD unknown command FROBNICATE/);
    await login(raw, f);
    expect(await raw.cmd('x3', 'FETCH 1 FLAGS')).toBe('x3 BAD FETCH needs a selected mailbox; SELECT one first\r\n');
    await raw.cmd('s', 'SELECT INBOX');
    expect(await raw.cmd('x4', 'FETCH 1:x FLAGS')).toMatch(/^x4 BAD "1:x" is not a valid sequence set/);
    expect(await raw.cmd('x5', 'FETCH 5 FLAGS')).toMatch(/^x5 BAD message 5 does not exist/);
    // Still selected: a valid command works.
    expect(await raw.cmd('x6', 'UID FETCH 1:* FLAGS')).toBe('x6 OK FETCH completed\r\n'.replace('FETCH', 'UID FETCH'));
    expect(await raw.cmd('x7', 'SELECT Nope')).toMatch(/^\* OK \[CLOSED\] previous mailbox closed\r\nx7 NO \[NONEXISTENT\]/);
    expect(await raw.cmd('x8', 'FETCH 1 FLAGS')).toMatch(/^x8 BAD FETCH needs a selected mailbox/);
    raw.close();
  });

  it('answers ID, NAMESPACE, ENABLE and NOOP', async () => {
    const raw = await Raw.connect(f.port);
    expect(await raw.cmd('i', 'ID ("name" "test")')).toBe('* ID ("name" "Haven")\r\ni OK ID completed\r\n');
    await login(raw, f);
    expect(await raw.cmd('n', 'NAMESPACE')).toBe('* NAMESPACE (("" "/")) NIL NIL\r\nn OK NAMESPACE completed\r\n');
    expect(await raw.cmd('e', 'ENABLE QRESYNC X-UNKNOWN')).toBe('* ENABLED QRESYNC\r\ne OK ENABLE completed\r\n');
    expect(await raw.cmd('e2', 'ENABLE QRESYNC CONDSTORE')).toBe('* ENABLED\r\ne2 OK ENABLE completed\r\n');
    expect(await raw.cmd('o', 'NOOP')).toBe('o OK NOOP completed\r\n');
    raw.close();
  });

  it('refuses an oversized literal with TOOBIG and stays usable', async () => {
    const small = await startFixture({ limits: { maxLiteral: 100, appendLimit: 100 } });
    try {
      const raw = await Raw.connect(small.port);
      await login(raw, small);
      expect(await raw.cmd('a', 'APPEND INBOX {500}')).toMatch(/^a NO \[TOOBIG\]/);
      expect(await raw.cmd('b', 'NOOP')).toBe('b OK NOOP completed\r\n');
      expect((await raw.cmd('c', 'CAPABILITY')).includes('APPENDLIMIT=100')).toBe(true);
      raw.close();
    } finally {
      await small.close();
    }
  });

  it('throws away a non-synchronizing literal over the limit and refuses only that command', async () => {
    const small = await startFixture({ limits: { maxLiteral: 100, appendLimit: 100 } });
    try {
      const raw = await Raw.connect(small.port);
      await login(raw, small);
      raw.write(`a APPEND INBOX {500+}\r\n${'x'.repeat(500)}\r\n`);
      expect(await raw.reply('a')).toBe('a NO [TOOBIG] literal of 500 bytes is over the limit of 100; send a smaller message\r\n');
      expect(await raw.cmd('b', 'STATUS INBOX (MESSAGES)')).toBe('* STATUS INBOX (MESSAGES 0)\r\nb OK STATUS completed\r\n');
      raw.close();
    } finally {
      await small.close();
    }
  });

  it('advertises LITERAL- when configured and holds clients to 4096-byte non-synchronizing literals', async () => {
    const g = await startFixture({ limits: { literalMinus: true } });
    try {
      const raw = await Raw.connect(g.port);
      const caps = await raw.cmd('c', 'CAPABILITY');
      expect(caps).toContain(' LITERAL- ');
      expect(caps).not.toContain('LITERAL+');
      await login(raw, g);
      const big = `Subject: big\r\n\r\n${'y'.repeat(6000)}\r\n`;
      raw.write(`a APPEND INBOX {${big.length}+}\r\n${big}\r\n`);
      expect(await raw.reply('a')).toMatch(/^a BAD \[TOOBIG\] a non-synchronizing literal may be at most 4096 bytes \(LITERAL-\)/);
      // The same message as a synchronizing literal goes in; a small one may stay non-synchronizing.
      raw.write(`b APPEND INBOX {${big.length}}\r\n`);
      await raw.until((x) => x.includes('+ '));
      raw.take();
      raw.write(`${big}\r\n`);
      expect(await raw.reply('b')).toMatch(/^b OK \[APPENDUID \d+ 1\]/);
      expect(await raw.cmd('d', 'APPEND INBOX {19+}\r\nSubject: s\r\n\r\nsmall')).toMatch(/^d OK \[APPENDUID \d+ 2\]/);
      raw.close();
    } finally {
      await g.close();
    }
  });
});
