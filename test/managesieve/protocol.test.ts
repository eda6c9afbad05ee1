/**
 * ManageSieve over raw sockets (RFC 5804): greeting and capabilities (§1.7),
 * STARTTLS (§2.2), AUTHENTICATE PLAIN (§2.1, RFC 4616) and every script
 * command (§2.3-2.13) with the response codes each section names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, plain, RawClient, startFixture } from './helpers.js';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f?.close());

async function loggedIn(): Promise<RawClient> {
  const c = await RawClient.connect(f.port);
  await c.response();
  expect(await c.cmd(`AUTHENTICATE "PLAIN" "${plain(f.address, f.password)}"`)).toMatch(/^OK/);
  return c;
}

const lit = (s: string) => `{${Buffer.byteLength(s)}+}\r\n${s}`;

describe('greeting and capabilities (§1.7)', () => {
  it('lists IMPLEMENTATION, SASL, SIEVE, STARTTLS and VERSION, then OK', async () => {
    const c = await RawClient.connect(f.port);
    const g = await c.response();
    expect(g).toMatch(/^"IMPLEMENTATION" "Haven"\r\n/);
    expect(g).toMatch(/^"SASL" "PLAIN"\r$/m);
    expect(g).toMatch(/^"SIEVE" "fileinto reject ereject envelope imap4flags vacation vacation-seconds copy body variables relational subaddress date index mailbox duplicate spamtest spamtestplus include comparator-i;ascii-numeric"\r$/m);
    expect(g).toMatch(/^"STARTTLS"\r$/m);
    expect(g).toMatch(/^"VERSION" "1.0"\r$/m);
    expect(g).toMatch(/^"UNAUTHENTICATE"\r$/m);
    expect(g).toMatch(/^OK /m);
    expect(await c.cmd('CAPABILITY')).toMatch(/"VERSION" "1.0"\r\nOK/);
    c.close();
  });

  it('STARTTLS upgrades and the server sends its capabilities again, without STARTTLS (§2.2)', async () => {
    const c = await RawClient.connect(f.port);
    await c.response();
    expect(await c.cmd('STARTTLS')).toMatch(/^OK/);
    await c.startTls();
    const caps = await c.response();
    expect(caps).toMatch(/"IMPLEMENTATION" "Haven"/);
    expect(caps).not.toMatch(/"STARTTLS"/);
    expect(await c.cmd(`AUTHENTICATE "PLAIN" "${plain(f.address, f.password)}"`)).toMatch(/^OK/);
    expect(await c.cmd('STARTTLS')).toMatch(/^NO/);
    c.close();
  });
});

describe('AUTHENTICATE PLAIN (§2.1)', () => {
  it('takes an initial response, or answers an empty challenge', async () => {
    const c = await RawClient.connect(f.port);
    await c.response();
    c.socket.write('AUTHENTICATE "PLAIN"\r\n');
    expect(await c.line()).toBe('""\r\n');
    expect(await c.cmd(`{${plain(f.address, f.password).length}+}\r\n${plain(f.address, f.password)}`)).toMatch(/^OK/);
    // OWNER appears once authenticated.
    expect(await c.cmd('CAPABILITY')).toMatch(/^"OWNER" "alice@example\.test"\r$/m);
    c.close();
  });

  it('"*" cancels; a wrong password is NO; commands need a login first', async () => {
    const c = await RawClient.connect(f.port);
    await c.response();
    expect(await c.cmd('LISTSCRIPTS')).toMatch(/^NO "authenticate first/);
    c.socket.write('AUTHENTICATE "PLAIN"\r\n');
    await c.line();
    expect(await c.cmd('*')).toMatch(/^NO "authentication cancelled"/);
    expect(await c.cmd(`AUTHENTICATE "PLAIN" "${plain(f.address, 'wrong password!')}"`)).toMatch(/^NO "wrong user name or password/);
    expect(await c.cmd(`AUTHENTICATE "PLAIN" "${plain(f.address, f.password, 'bob@example.test')}"`)).toMatch(/^NO \(AUTH-TOO-WEAK\)/);
    expect(await c.cmd('AUTHENTICATE "DIGEST-MD5"')).toMatch(/^NO "mechanism DIGEST-MD5 is not offered/);
    c.close();
  });

  it('closes with BYE after three failures', async () => {
    const c = await RawClient.connect(f.port);
    await c.response();
    for (let i = 0; i < 2; i++) expect(await c.cmd(`AUTHENTICATE "PLAIN" "${plain(f.address, 'nope nope nope')}"`)).toMatch(/^NO/);
    expect(await c.cmd(`AUTHENTICATE "PLAIN" "${plain(f.address, 'nope nope nope')}"`)).toMatch(/^BYE/);
    c.close();
  });

  it('without TLS off loopback (plaintext not allowed) offers no mechanism and answers ENCRYPT-NEEDED', async () => {
    const g = await startFixture({ allowPlaintextOnLoopback: false });
    try {
      const c = await RawClient.connect(g.port);
      expect(await c.response()).toMatch(/^"SASL" ""\r$/m);
      expect(await c.cmd(`AUTHENTICATE "PLAIN" "${plain(g.address, g.password)}"`)).toMatch(/^NO \(ENCRYPT-NEEDED\)/);
      c.close();
    } finally {
      await g.close();
    }
  });
});

describe('script commands', () => {
  it('PUTSCRIPT, LISTSCRIPTS, SETACTIVE, GETSCRIPT round trip (§2.6-2.9)', async () => {
    const c = await loggedIn();
    const script = 'require "fileinto";\r\nif header :contains "subject" "x" {\r\n  fileinto "X";\r\n}\r\n';
    expect(await c.cmd(`PUTSCRIPT "work" ${lit(script)}`)).toMatch(/^OK/);
    expect(await c.cmd(`PUTSCRIPT "home" ${lit('keep;')}`)).toMatch(/^OK/);
    expect(await c.cmd('LISTSCRIPTS')).toBe('"home"\r\n"work"\r\nOK "listscripts completed"\r\n');
    expect(await c.cmd('SETACTIVE "work"')).toMatch(/^OK/);
    expect(await c.cmd('LISTSCRIPTS')).toBe('"home"\r\n"work" ACTIVE\r\nOK "listscripts completed"\r\n');
    expect(await c.cmd('GETSCRIPT "work"')).toBe(`{${script.length}}\r\n${script}\r\nOK "getscript completed"\r\n`);
    expect(await c.cmd('GETSCRIPT "nope"')).toMatch(/^NO \(NONEXISTENT\)/);
    expect(f.t.store.directory.sieve.active(f.accountId)?.name).toBe('work');
    // An empty name deactivates (§2.8).
    expect(await c.cmd('SETACTIVE ""')).toMatch(/^OK/);
    expect(f.t.store.directory.sieve.active(f.accountId)).toBeNull();
    expect(await c.cmd('SETACTIVE "nope"')).toMatch(/^NO \(NONEXISTENT\)/);
    c.close();
  });

  it('PUTSCRIPT and CHECKSCRIPT refuse a bad script with its line and column (§2.6, §2.12)', async () => {
    const c = await loggedIn();
    const bad = 'require "fileinto";\r\nfileinto "a"\r\n';
    const r = await c.cmd(`PUTSCRIPT "bad" ${lit(bad)}`);
    // RFC 5804 §4: a quoted string escapes " and \\ with a backslash.
    expect(r).toMatch(/^NO "line 3, column 1: expected \\";\\" or \\"\{\\" after fileinto/);
    expect(await c.cmd('GETSCRIPT "bad"')).toMatch(/^NO \(NONEXISTENT\)/);
    expect(await c.cmd(`CHECKSCRIPT ${lit('require "enotify";')}`)).toMatch(/^NO "line 1, column 9: unsupported extension/);
    expect(await c.cmd(`CHECKSCRIPT ${lit('require "vacation"; vacation "x";')}`)).toMatch(/^OK/);
    c.close();
  });

  it('HAVESPACE answers OK or NO (QUOTA/MAXSIZE) (§2.3); an oversized PUTSCRIPT is refused the same way', async () => {
    const c = await loggedIn();
    expect(await c.cmd('HAVESPACE "s" 1000')).toMatch(/^OK/);
    expect(await c.cmd('HAVESPACE "s" 10000000')).toMatch(/^NO \(QUOTA\/MAXSIZE\)/);
    const big = '#'.repeat(70 * 1024) + '\r\nkeep;';
    expect(await c.cmd(`PUTSCRIPT "big" ${lit(big)}`)).toMatch(/^NO \(QUOTA\/MAXSIZE\)/);
    // A literal far over the limit is skipped unread, and the session goes on.
    c.socket.write('PUTSCRIPT "huge" {999999+}\r\n');
    c.socket.write(Buffer.alloc(999999, 0x23));
    expect(await c.cmd('\r\nNOOP')).toMatch(/^NO "literal of 999999 octets/);
    expect(await c.response()).toMatch(/^OK/);
    c.close();
  });

  it('RENAMESCRIPT and DELETESCRIPT with NONEXISTENT, ALREADYEXISTS and ACTIVE (§2.10, §2.11)', async () => {
    const c = await loggedIn();
    await c.cmd(`PUTSCRIPT "a" ${lit('keep;')}`);
    await c.cmd(`PUTSCRIPT "b" ${lit('discard;')}`);
    await c.cmd('SETACTIVE "a"');
    expect(await c.cmd('RENAMESCRIPT "a" "b"')).toMatch(/^NO \(ALREADYEXISTS\)/);
    expect(await c.cmd('RENAMESCRIPT "zz" "c"')).toMatch(/^NO \(NONEXISTENT\)/);
    expect(await c.cmd('RENAMESCRIPT "a" "c"')).toMatch(/^OK/);
    // The active script stays active under its new name.
    expect(f.t.store.directory.sieve.active(f.accountId)?.name).toBe('c');
    expect(await c.cmd('DELETESCRIPT "c"')).toMatch(/^NO \(ACTIVE\)/);
    expect(await c.cmd('DELETESCRIPT "b"')).toMatch(/^OK/);
    expect(await c.cmd('DELETESCRIPT "b"')).toMatch(/^NO \(NONEXISTENT\)/);
    await c.cmd('SETACTIVE ""');
    c.close();
  });

  it('NOOP echoes its tag (§2.13); UNAUTHENTICATE and LOGOUT (§2.14, §2.4)', async () => {
    const c = await loggedIn();
    expect(await c.cmd('NOOP "STARTTLS-SYNC-42"')).toBe('OK (TAG "STARTTLS-SYNC-42") "Done"\r\n');
    expect(await c.cmd('NOOP')).toBe('OK "Done"\r\n');
    expect(await c.cmd('UNAUTHENTICATE')).toMatch(/^OK/);
    expect(await c.cmd('LISTSCRIPTS')).toMatch(/^NO/);
    expect(await c.cmd('LOGOUT')).toMatch(/^OK/);
    c.close();
  });

  it('answers garbage with NO and stays usable; unknown commands name CAPABILITY', async () => {
    const c = await loggedIn();
    expect(await c.cmd('FROB')).toMatch(/^NO "unknown command FROB/);
    expect(await c.cmd('PUTSCRIPT "x"')).toMatch(/^NO "PUTSCRIPT takes 2 arguments/);
    expect(await c.cmd('HAVESPACE "x" "y"')).toMatch(/^NO "HAVESPACE: argument 2 must be a number/);
    expect(await c.cmd('GETSCRIPT "unterminated\r\nNOOP')).toMatch(/^NO "line break inside a quoted string/);
    expect(await c.cmd('NOOP')).toMatch(/^OK/);
    c.close();
  });
});
