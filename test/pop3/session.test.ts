/**
 * @module test/pop3/session
 * Raw transcripts over TCP: the whole RFC 1939 session, CAPA before and
 * after login, TOP line counts, wrong-state and unknown commands, overlong
 * lines, failed logins and the shared lockout, plaintext refused without TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uidlOf } from '../../node/pop3/index.js';
import { numberedMessage, RawClient, startFixture, type Pop3Fixture } from './helpers.js';

describe('RFC 1939 session', () => {
  let f: Pop3Fixture;
  let msgs: Buffer[];
  let uids: number[];
  beforeAll(async () => {
    f = await startFixture();
    msgs = [numberedMessage(3, 'one'), Buffer.from('Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n'), numberedMessage(10, 'three')];
    uids = await f.deliver(msgs);
  });
  afterAll(() => f.close());

  it('greets, logs in, lists, retrieves, deletes and updates', async () => {
    const c = await RawClient.connect(f.plain.port);
    expect(await c.line()).toMatch(/^\+OK localhost POP3 ready$/);
    expect(await c.cmd('STAT')).toMatch(/^-ERR STAT needs a login first/);
    const capa = await c.lines('CAPA');
    expect(capa).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN', 'STLS', 'IMPLEMENTATION Haven']);
    expect(await c.cmd('PASS x')).toBe('-ERR send USER first');
    expect(await c.cmd(`USER ${f.address}`)).toBe('+OK send PASS');
    const total = msgs.reduce((n, m) => n + m.length, 0);
    expect(await c.cmd(`PASS ${f.password}`)).toBe(`+OK maildrop has 3 messages (${total} octets)`);
    expect(await c.lines('CAPA')).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'IMPLEMENTATION Haven']);
    expect(await c.cmd('STAT')).toBe(`+OK 3 ${total}`);
    expect(await c.lines('LIST')).toEqual(msgs.map((m, i) => `${i + 1} ${m.length}`));
    expect(await c.cmd('LIST 2')).toBe(`+OK 2 ${msgs[1].length}`);
    expect(await c.cmd('LIST 4')).toMatch(/^-ERR no message 4/);
    const inbox = f.t.store.openMailbox(f.accountId);
    const lease = await inbox;
    const uv = lease.mailbox.folders.require('INBOX').uidValidity;
    lease.release();
    expect(await c.lines('UIDL')).toEqual(uids.map((u, i) => `${i + 1} ${uidlOf(uv, u)}`));
    expect(await c.cmd('UIDL 3')).toBe(`+OK 3 ${uidlOf(uv, uids[2])}`);

    const r1 = await c.multiCmd('RETR 1');
    expect(r1.status).toBe(`+OK ${msgs[0].length} octets`);
    expect(r1.body.equals(msgs[0])).toBe(true);
    const r2 = await c.multiCmd('RETR 2');
    expect(r2.body.toString()).toBe('Subject: dots\r\n\r\n..leading dot\r\n...two\r\n..\r\nend\r\n');

    expect(await c.cmd('DELE 1')).toBe('+OK message 1 deleted');
    expect(await c.cmd('DELE 1')).toMatch(/^-ERR message 1 is marked deleted/);
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR message 1 is marked deleted/);
    expect(await c.cmd('STAT')).toBe(`+OK 2 ${total - msgs[0].length}`);
    expect(await c.lines('LIST')).toEqual([`2 ${msgs[1].length}`, `3 ${msgs[2].length}`]);
    expect(await c.cmd('RSET')).toMatch(/^\+OK maildrop has 3 messages/);
    expect(await c.cmd('STAT')).toBe(`+OK 3 ${total}`);
    expect(await c.cmd('NOOP')).toBe('+OK');
    expect(await c.cmd('USER x')).toMatch(/^-ERR USER is not allowed after login/);
    expect(await c.cmd('DELE 3')).toBe('+OK message 3 deleted');
    expect(await c.cmd('QUIT')).toBe('+OK 1 messages deleted; goodbye');
    await c.closed();

    const after = await f.t.store.openMailbox(f.accountId);
    try {
      const inboxId = after.mailbox.folders.require('INBOX').id;
      expect(after.mailbox.messages.list(inboxId).map((m) => m.uid)).toEqual(uids.slice(0, 2));
    } finally {
      after.release();
    }
  });

  it('TOP sends the header and exactly n body lines', async () => {
    const m = numberedMessage(5, 'top');
    await f.deliver([m]);
    const c = await RawClient.connect(f.plain.port);
    expect(await c.login(f.address, f.password)).toMatch(/^\+OK/);
    const n = (await c.lines('LIST')).length;
    const header = m.toString().split('\r\n\r\n')[0] + '\r\n\r\n';
    for (const lines of [0, 1, 3, 5, 100]) {
      const r = await c.multiCmd(`TOP ${n} ${lines}`);
      expect(r.status).toMatch(/^\+OK \d+ octets$/);
      const body = Array.from({ length: Math.min(lines, 5) }, (_, i) => `line ${i + 1}\r\n`).join('');
      expect(r.body.toString()).toBe(header + body);
    }
    expect(await c.cmd(`TOP ${n + 1} 1`)).toMatch(/^-ERR no message/);
    expect(await c.cmd('TOP 1')).toMatch(/^-ERR TOP needs a message number and a line count/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK 0 messages deleted/);
  });

  it('answers pipelined commands in order', async () => {
    const c = await RawClient.connect(f.plain.port);
    await c.line();
    c.write(`USER ${f.address}\r\nPASS ${f.password}\r\nSTAT\r\nLIST 1\r\nNOOP\r\nQUIT\r\n`);
    expect(await c.line()).toBe('+OK send PASS');
    expect(await c.line()).toMatch(/^\+OK maildrop has/);
    expect(await c.line()).toMatch(/^\+OK \d+ \d+$/);
    expect(await c.line()).toMatch(/^\+OK 1 \d+$/);
    expect(await c.line()).toBe('+OK');
    expect(await c.line()).toMatch(/^\+OK 0 messages deleted/);
    await c.closed();
  });
});

describe('hostile input', () => {
  let f: Pop3Fixture;
  beforeAll(async () => {
    f = await startFixture({ limits: { maxBadCommands: 4, maxLineBytes: 256, maxAuthFailures: 3 }, limiter: { maxFailures: 5 } });
  });
  afterAll(() => f.close());

  it('answers unknown and wrong-state commands, then closes after too many', async () => {
    const c = await RawClient.connect(f.plain.port);
    await c.line();
    expect(await c.cmd('HELO there')).toMatch(/^-ERR unknown command "HELO"/);
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR RETR needs a login first/);
    expect(await c.cmd('NOOP')).toMatch(/^-ERR NOOP needs a login first/);
    expect(await c.lines('CAPA')).toContain('TOP');
    expect(await c.cmd('APOP a b')).toMatch(/^-ERR unknown command .*too many bad commands, closing$/);
    await c.closed();
  });

  it('refuses overlong lines without buffering them, then closes', async () => {
    const c = await RawClient.connect(f.plain.port);
    await c.line();
    c.write('USER ' + 'a'.repeat(100_000) + '\r\n');
    expect(await c.line()).toBe('-ERR line too long; commands are at most 256 octets');
    expect(await c.cmd('NOOP')).toMatch(/^-ERR NOOP needs a login/);
    c.write('X'.repeat(300) + '\r\n' + 'Y'.repeat(300) + '\r\n');
    expect(await c.line()).toBe('-ERR line too long; commands are at most 256 octets');
    expect(await c.line()).toBe('-ERR line too long; commands are at most 256 octets; too many bad commands, closing');
    await c.closed();
  });

  it('counts failed logins per connection and in the shared limiter, then locks out', async () => {
    const c = await RawClient.connect(f.plain.port);
    await c.line();
    for (let i = 1; i <= 2; i++) {
      expect(await c.cmd(`USER ${f.address}`)).toBe('+OK send PASS');
      expect(await c.cmd('PASS wrong-password')).toBe('-ERR [AUTH] wrong user name or password; check both, or use an app password');
      expect(await c.cmd('PASS again')).toBe('-ERR send USER first');
    }
    await c.cmd(`USER ${f.address}`);
    expect(await c.cmd('PASS wrong-password')).toMatch(/^-ERR \[AUTH\] .*too many times; closing/);
    await c.closed();

    const d = await RawClient.connect(f.plain.port);
    await d.line();
    await d.cmd('USER nobody@example.test');
    expect(await d.cmd('PASS wrong-password')).toMatch(/^-ERR \[AUTH\]/);
    await d.cmd('USER nobody@example.test');
    expect(await d.cmd('PASS wrong-password')).toMatch(/^-ERR \[AUTH\]/);
    // Five failures from this IP: even the right password is refused now.
    await d.cmd(`USER ${f.address}`);
    expect(await d.cmd(`PASS ${f.password}`)).toMatch(/^-ERR \[LOGIN-DELAY\] too many failed logins; wait \d+ minute/);
    expect(f.limiter.check('127.0.0.1').locked).toBe(true);
    d.destroy();
  });
});

describe('plaintext policy', () => {
  let f: Pop3Fixture;
  beforeAll(async () => {
    f = await startFixture({ limits: { allowPlaintextOnLoopback: false } });
  });
  afterAll(() => f.close());

  it('refuses USER, PASS and AUTH PLAIN before TLS and does not advertise them', async () => {
    const c = await RawClient.connect(f.plain.port);
    await c.line();
    expect(await c.lines('CAPA')).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'STLS', 'IMPLEMENTATION Haven']);
    expect(await c.cmd(`USER ${f.address}`)).toBe('-ERR log in over TLS: send STLS first, or connect to the POP3S port');
    expect(await c.cmd('AUTH PLAIN AGFsaWNlAHg=')).toMatch(/^-ERR log in over TLS/);
    expect(await c.lines('AUTH')).toEqual([]);
    expect(await c.cmd('QUIT')).toBe('+OK goodbye');
  });

  it('allows them over implicit TLS', async () => {
    const c = await RawClient.connect(f.implicit.port, { tls: true });
    expect(await c.line()).toMatch(/^\+OK/);
    expect(await c.lines('CAPA')).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN', 'IMPLEMENTATION Haven']);
    expect(await c.cmd(`USER ${f.address}`)).toBe('+OK send PASS');
    expect(await c.cmd(`PASS ${f.password}`)).toMatch(/^\+OK maildrop has 0 messages/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  });
});

describe('connection limits and autologout', () => {
  let f: Pop3Fixture;
  beforeAll(async () => {
    f = await startFixture({ limits: { maxConnectionsPerIp: 2, idleTimeoutMs: 300 } });
  });
  afterAll(() => f.close());

  it('refuses connections past the per-IP limit with SYS/TEMP', async () => {
    const a = await RawClient.connect(f.plain.port);
    const b = await RawClient.connect(f.implicit.port, { tls: true });
    expect(await a.line()).toMatch(/^\+OK/);
    expect(await b.line()).toMatch(/^\+OK/);
    const c = await RawClient.connect(f.plain.port);
    expect(await c.line()).toBe('-ERR [SYS/TEMP] too many connections from your address; close some and retry');
    await c.closed();
    a.destroy();
    b.destroy();
  });

  it('logs out an idle session without applying its deletions', async () => {
    const [uid] = await f.deliver([numberedMessage(1)]);
    let c: RawClient;
    // The previous test's connections may still be counted for a moment after they closed.
    for (;;) {
      c = await RawClient.connect(f.plain.port);
      if ((await c.line()).startsWith('+OK')) break;
      await c.closed();
    }
    expect(await c.cmd(`USER ${f.address}`)).toBe('+OK send PASS');
    expect(await c.cmd(`PASS ${f.password}`)).toMatch(/^\+OK maildrop has 1/);
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.line()).toBe('-ERR autologout: idle for too long; nothing was deleted');
    await c.closed();
    const lease = await f.t.store.openMailbox(f.accountId);
    expect(lease.mailbox.messages.uids(lease.mailbox.folders.require('INBOX').id)).toEqual([uid]);
    lease.release();
  });

  it('drops a connection whose TLS handshake never starts after STLS', async () => {
    let c: RawClient;
    for (;;) {
      c = await RawClient.connect(f.plain.port);
      if ((await c.line()).startsWith('+OK')) break;
      await c.closed();
    }
    expect(await c.cmd('STLS')).toBe('+OK begin TLS negotiation');
    await c.closed();
    expect(c.isClosed).toBe(true);
  });
});
