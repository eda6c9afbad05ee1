/**
 * CONDSTORE and QRESYNC (RFC 7162): MODSEQ in FETCH, CHANGEDSINCE,
 * UNCHANGEDSINCE conflicts answered with [MODIFIED], and a QRESYNC client
 * resyncing after changes made while it was away: VANISHED (EARLIER) plus
 * the changed flags, then VANISHED instead of EXPUNGE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f.close());

const num = (re: RegExp, s: string) => Number(re.exec(s)![1]);

async function appendN(raw: Raw, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const m = `Subject: m${i}\r\n\r\nbody ${i}\r\n`;
    await raw.cmd(`a${i}`, `APPEND INBOX {${m.length}+}\r\n${m}`);
  }
}

describe('CONDSTORE', () => {
  it('reports MODSEQ, filters by CHANGEDSINCE and refuses stale UNCHANGEDSINCE', async () => {
    const a = await Raw.connect(f.port);
    await login(a, f);
    const sel = await a.cmd('s', 'SELECT INBOX (CONDSTORE)');
    expect(sel).toMatch(/\* OK \[HIGHESTMODSEQ \d+\]/);
    await appendN(a, 3);
    const f1 = await a.cmd('f', 'FETCH 1:* (MODSEQ)');
    const m1 = num(/\* 1 FETCH \(UID 1 MODSEQ \((\d+)\)\)/, f1);
    const m3 = num(/\* 3 FETCH \(UID 3 MODSEQ \((\d+)\)\)/, f1);
    const st = await a.cmd('t', 'STORE 2 +FLAGS (\\Flagged)');
    // The session appended these with INBOX selected: they are \Recent for it (RFC 3501 §6.3.11).
    const m2 = num(/\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Recent\) MODSEQ \((\d+)\)\)/, st);
    expect(m2).toBeGreaterThan(m1);
    expect(await a.cmd('c', `FETCH 1:* (FLAGS) (CHANGEDSINCE ${m2 - 1})`)).toBe(`* 2 FETCH (UID 2 MODSEQ (${m2}) FLAGS (\\Flagged \\Recent))\r\nc OK FETCH completed\r\n`);
    // Message 2 changed after m3: its conditional store fails; 1 and 3 succeed.
    const cs = await a.cmd('u', `STORE 1:3 (UNCHANGEDSINCE ${m3}) +FLAGS (\\Seen)`);
    expect(cs).toMatch(/\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)\r\n/);
    expect(cs).not.toMatch(/\* 2 FETCH/);
    expect(cs).toMatch(/u OK \[MODIFIED 2\] /);
    expect(await a.cmd('u2', `UID STORE 2 (UNCHANGEDSINCE ${m3}) FLAGS ()`)).toMatch(/^u2 OK \[MODIFIED 2\]/);
    a.close();
  });
});

describe('QRESYNC', () => {
  it('resyncs a client that was away, then reports VANISHED', async () => {
    const a = await Raw.connect(f.port);
    await login(a, f);
    await a.cmd('e', 'ENABLE QRESYNC');
    const sel = await a.cmd('s', 'SELECT INBOX');
    const uv = num(/UIDVALIDITY (\d+)/, sel);
    const hms = num(/HIGHESTMODSEQ (\d+)/, sel);
    a.close();

    // While it is away: a flag change on UID 3 and an expunge of UID 1.
    const b = await Raw.connect(f.port);
    await login(b, f);
    await b.cmd('s', 'SELECT INBOX');
    await b.cmd('t', 'UID STORE 3 +FLAGS.SILENT (\\Answered)');
    await b.cmd('d', 'UID STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('x', 'EXPUNGE');
    b.close();

    const c = await Raw.connect(f.port);
    await login(c, f);
    await c.cmd('e', 'ENABLE QRESYNC');
    const r = await c.cmd('s', `SELECT INBOX (QRESYNC (${uv} ${hms} 1:3))`);
    expect(r).toContain('* VANISHED (EARLIER) 1\r\n');
    expect(r).toMatch(/\* 2 FETCH \(UID 3 FLAGS \(\\Seen \\Answered\) MODSEQ \(\d+\)\)\r\n/);
    expect(r).not.toMatch(/FETCH \(UID 2 /);
    expect(r).toMatch(/s OK \[READ-WRITE\]/);
    // A stale UIDVALIDITY gets no resync data.
    const r2 = await c.cmd('s2', `EXAMINE INBOX (QRESYNC (${uv + 1} ${hms}))`);
    expect(r2).not.toContain('VANISHED');
    expect(r2).toContain('* OK [CLOSED]');
    await c.cmd('s3', 'SELECT INBOX');
    expect(await c.cmd('v', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${hms} VANISHED)`)).toMatch(/^\* VANISHED \(EARLIER\) 1\r\n\* 2 FETCH \(UID 3 MODSEQ/);
    await c.cmd('d', 'UID STORE 2 +FLAGS.SILENT (\\Deleted)');
    expect(await c.cmd('x', 'EXPUNGE')).toMatch(/^\* VANISHED 2\r\nx OK \[HIGHESTMODSEQ \d+\] EXPUNGE completed\r\n$/);
    expect(await c.cmd('bad', 'FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)')).toMatch(/^bad BAD/);
    c.close();
  });
});
