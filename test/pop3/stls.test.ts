/**
 * @module test/pop3/stls
 * STLS (RFC 2595) then AUTH PLAIN (RFC 5034) with an initial response and
 * through a continuation; commands pipelined after STLS are never executed;
 * app passwords log in; authzid must match.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numberedMessage, RawClient, startFixture, type Pop3Fixture } from './helpers.js';

const plain = (authz: string, user: string, pass: string) => Buffer.from(`${authz}\0${user}\0${pass}`).toString('base64');

describe('STLS and AUTH PLAIN', () => {
  let f: Pop3Fixture;
  beforeAll(async () => {
    f = await startFixture({ limits: { allowPlaintextOnLoopback: false } });
    await f.deliver([numberedMessage(2)]);
  });
  afterAll(() => f.close());

  async function upgraded(): Promise<RawClient> {
    const c = await RawClient.connect(f.plain.port);
    await c.line();
    expect(await c.cmd('STLS')).toBe('+OK begin TLS negotiation');
    await c.upgrade();
    return c;
  }

  it('STLS, then CAPA changes, then AUTH PLAIN with an initial response', async () => {
    const c = await upgraded();
    expect((c.socket as import('node:tls').TLSSocket).encrypted).toBe(true);
    expect(await c.lines('CAPA')).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN', 'IMPLEMENTATION Haven']);
    expect(await c.cmd('STLS')).toBe('-ERR TLS is already active');
    expect(await c.lines('AUTH')).toEqual(['PLAIN']);
    expect(await c.cmd(`AUTH PLAIN ${plain('', f.address, f.password)}`)).toMatch(/^\+OK maildrop has 1 messages/);
    const r = await c.multiCmd('RETR 1');
    expect(r.body.toString()).toContain('line 2\r\n');
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('AUTH PLAIN through a continuation, cancel with "*", bad base64 and foreign authzid refused', async () => {
    const c = await upgraded();
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd('*')).toBe('-ERR authentication cancelled');
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd('not base64!')).toMatch(/^-ERR the SASL response is not valid base64/);
    expect(await c.cmd('AUTH CRAM-MD5')).toBe('-ERR mechanism CRAM-MD5 is not supported; use PLAIN');
    expect(await c.cmd(`AUTH PLAIN ${plain('bob@example.test', f.address, f.password)}`)).toMatch(/^-ERR \[AUTH\] logging in on behalf/);
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd(plain(f.address, f.address, 'wrong-password'))).toMatch(/^-ERR \[AUTH\] wrong user name or password/);
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd(plain(f.address, f.address, f.password))).toMatch(/^\+OK maildrop has 1/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('app passwords log in with USER/PASS after STLS', async () => {
    const app = await f.t.store.addAppPassword(f.address, 'phone', f.password);
    const c = await upgraded();
    expect(await c.cmd(`USER ${f.address}`)).toBe('+OK send PASS');
    expect(await c.cmd(`PASS ${app.password}`)).toMatch(/^\+OK maildrop has 1/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('commands pipelined behind STLS are discarded, not run after the handshake', async () => {
    const c = await RawClient.connect(f.plain.port);
    await c.line();
    c.write(`STLS\r\nUSER ${f.address}\r\nPASS ${f.password}\r\n`);
    expect(await c.line()).toBe('+OK begin TLS negotiation');
    await c.upgrade();
    // Had the injected USER/PASS run, this would be a logged-in session.
    expect(await c.cmd('STAT')).toMatch(/^-ERR STAT needs a login first/);
    expect(await c.cmd('PASS x')).toBe('-ERR send USER first');
    expect(await c.cmd('QUIT')).toBe('+OK goodbye');
  });

  it('a failed handshake after STLS closes the connection quietly', async () => {
    const c = await RawClient.connect(f.plain.port);
    await c.line();
    expect(await c.cmd('STLS')).toMatch(/^\+OK/);
    c.write('this is not a TLS ClientHello\r\n');
    await c.closed();
    expect(c.isClosed).toBe(true);
  });
});
