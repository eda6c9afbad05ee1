/**
 * QUOTA (RFC 9208) with its STORAGE resource, OVERQUOTA on APPEND with
 * nothing changed (copies share bytes and cost nothing), APPENDLIMIT
 * (RFC 7889) in STATUS and CAPABILITY and enforced before the literal is
 * sent; and the sealed spool: mail that arrived while the mailbox was locked is in
 * INBOX, in arrival order, once the owner logs in over IMAP — exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleMessage } from '../helpers/store.js';
import { Raw, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
const QUOTED = 'quoted@example.test';
const PASS = 'quota password long enough';
beforeAll(async () => {
  f = await startFixture({ limits: { appendLimit: 1_000_000 } });
  await f.t.store.createAccount(QUOTED, PASS, { quotaBytes: 4096 });
});
afterAll(async () => f.close());

async function loginAs(user: string, pass: string): Promise<Raw> {
  const r = await Raw.connect(f.port);
  const ok = await r.cmd('L', `LOGIN ${user} "${pass}"`);
  if (!ok.includes('L OK')) throw new Error(ok);
  return r;
}

function message(bytes: number): string {
  const head = 'Subject: filler\r\n\r\n';
  return head + 'x'.repeat(bytes - head.length);
}

describe('QUOTA', () => {
  it('reports the STORAGE root in KiB, refuses SETQUOTA, and says OVERQUOTA on an APPEND that does not fit', async () => {
    const r = await loginAs(QUOTED, PASS);
    expect(await r.cmd('q', 'GETQUOTAROOT INBOX')).toBe('* QUOTAROOT INBOX ""\r\n* QUOTA "" (STORAGE 0 4)\r\nq OK GETQUOTAROOT completed\r\n');
    expect(await r.cmd('q2', 'GETQUOTA ""')).toBe('* QUOTA "" (STORAGE 0 4)\r\nq2 OK GETQUOTA completed\r\n');
    expect(await r.cmd('q3', 'GETQUOTA "other"')).toBe('q3 NO [NONEXISTENT] the only quota root is ""\r\n');
    expect(await r.cmd('q4', 'SETQUOTA "" (STORAGE 100)')).toMatch(/^q4 NO \[NOPERM\] quotas are set by the administrator/);

    const m = message(2500);
    expect(await r.cmd('a', `APPEND INBOX {${m.length}+}\r\n${m}`)).toMatch(/^a OK \[APPENDUID \d+ 1\]/);
    expect(await r.cmd('q5', 'GETQUOTA ""')).toBe('* QUOTA "" (STORAGE 3 4)\r\nq5 OK GETQUOTA completed\r\n');
    // A second copy of the same size does not fit: refused, and nothing was added.
    expect(await r.cmd('a2', `APPEND INBOX {${m.length}+}\r\n${m}`)).toMatch(/^a2 NO \[OVERQUOTA\]/);
    // MULTIAPPEND is all or nothing: the small first message is not kept either.
    const small = message(100);
    expect(await r.cmd('a3', `APPEND INBOX {${small.length}+}\r\n${small} {${m.length}+}\r\n${m}`)).toMatch(/^a3 NO \[OVERQUOTA\]/);
    expect(await r.cmd('s', 'STATUS INBOX (MESSAGES SIZE)')).toBe(`* STATUS INBOX (MESSAGES 1 SIZE ${m.length})\r\ns OK STATUS completed\r\n`);
    await r.cmd('sel', 'SELECT INBOX');
    // A copy shares the stored bytes (the quota counts blobs once), so it fits and uses nothing.
    expect(await r.cmd('c', 'COPY 1 Archive')).toMatch(/^c OK \[COPYUID /);
    expect(await r.cmd('q6', 'GETQUOTA ""')).toBe('* QUOTA "" (STORAGE 3 4)\r\nq6 OK GETQUOTA completed\r\n');
    r.close();
  });

  it('an account with no quota reports an empty resource list', async () => {
    const r = await loginAs(f.address, f.password);
    expect(await r.cmd('q', 'GETQUOTA ""')).toBe('* QUOTA "" ()\r\nq OK GETQUOTA completed\r\n');
    r.close();
  });
});

describe('APPENDLIMIT', () => {
  it('is advertised and reported per mailbox, and a larger APPEND is refused before its bytes are sent', async () => {
    const r = await loginAs(f.address, f.password);
    expect(await r.cmd('c', 'CAPABILITY')).toMatch(/ APPENDLIMIT=1000000[ \r]/);
    expect(await r.cmd('s', 'STATUS INBOX (APPENDLIMIT)')).toBe('* STATUS INBOX (APPENDLIMIT 1000000)\r\ns OK STATUS completed\r\n');
    expect(await r.cmd('a', 'APPEND INBOX {1000001}')).toMatch(/^a NO \[TOOBIG\]/);
    expect(await r.cmd('n', 'NOOP')).toBe('n OK NOOP completed\r\n');
    r.close();
  });
});

describe('sealed spool', () => {
  it('moves mail that arrived while locked into INBOX at login, in arrival order, exactly once', async () => {
    const who = 'spooled@example.test';
    const pass = 'spool password long enough';
    const { account } = await f.t.store.createAccount(who, pass);
    for (const n of [1, 2, 3]) {
      const d = await f.t.store.deliver(account.id, sampleMessage({ subject: `sealed ${n}`, to: who }));
      expect(d.where).toBe('spool');
    }
    expect(f.t.store.spool.stats(account.id).messages).toBe(3);

    const r = await loginAs(who, pass);
    expect(f.t.store.spool.stats(account.id).messages).toBe(0);
    expect(await r.cmd('s', 'SELECT INBOX')).toContain('* 3 EXISTS\r\n');
    const subjects = await r.cmd('f', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    expect([...subjects.matchAll(/Subject: (sealed \d)/g)].map((m) => m[1])).toEqual(['sealed 1', 'sealed 2', 'sealed 3']);
    await r.cmd('o', 'LOGOUT');
    r.close();

    const again = await loginAs(who, pass);
    expect(await again.cmd('s', 'STATUS INBOX (MESSAGES)')).toBe('* STATUS INBOX (MESSAGES 3)\r\ns OK STATUS completed\r\n');
    again.close();
  });
});
