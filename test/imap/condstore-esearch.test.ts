/**
 * CONDSTORE with ESEARCH (RFC 4731 §3.2, RFC 7162 §3.1.5): the MODSEQ an
 * ESEARCH reports depends on what it returns; and a CONDSTORE enabling
 * command issued with a mailbox selected (RFC 7162 §3.1: FETCH MODSEQ,
 * SEARCH MODSEQ, STORE UNCHANGEDSINCE, STATUS HIGHESTMODSEQ, ENABLE) turns
 * CONDSTORE on and tells the client the mailbox's HIGHESTMODSEQ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedSession, type Checked } from './checker.js';
import { startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f.close());

const session = () => checkedSession(f);

async function fill(c: Checked, box: string, n: number): Promise<void> {
  await c.cmd('c', `CREATE ${box}`);
  for (let i = 1; i <= n; i++) {
    const m = `Subject: m${i}\r\n\r\nbody ${i}\r\n`;
    expect(await c.cmd(`a${i}`, `APPEND ${box} {${m.length}+}\r\n${m}`)).toMatch(/OK/);
  }
}

/** Each message's MODSEQ by sequence number. */
async function modseqs(c: Checked): Promise<number[]> {
  const r = await c.cmd('m', 'FETCH 1:* (MODSEQ)');
  return [...r.matchAll(/^\* (\d+) FETCH \(UID \d+ MODSEQ \((\d+)\)\)/gm)].map((m) => Number(m[2]));
}

describe('ESEARCH MIN/MAX with MODSEQ (RFC 4731 §3.2, RFC 7162 §3.1.5)', () => {
  it('reports the mod-sequence of the message returned, of the higher of MIN and MAX, or of all matches', async () => {
    const c = await session();
    await fill(c, 'es-modseq', 3);
    await c.cmd('s', 'SELECT es-modseq (CONDSTORE)');
    // Message 2 changes last: it holds the highest mod-sequence, neither the first nor the last match.
    await c.cmd('st', 'STORE 2 +FLAGS.SILENT (\\Flagged)');
    const [m1, m2, m3] = await modseqs(c);
    expect(m2).toBeGreaterThan(m3);
    expect(m3).toBeGreaterThan(m1);
    const es = async (ret: string) => /^\* ESEARCH .*$/m.exec(await c.cmd('e', `SEARCH RETURN (${ret}) MODSEQ 1`))![0];
    expect(await es('MIN')).toBe(`* ESEARCH (TAG "e") MIN 1 MODSEQ ${m1}`);
    expect(await es('MAX')).toBe(`* ESEARCH (TAG "e") MAX 3 MODSEQ ${m3}`);
    expect(await es('MIN MAX')).toBe(`* ESEARCH (TAG "e") MIN 1 MAX 3 MODSEQ ${m3}`);
    expect(await es('MIN COUNT')).toBe(`* ESEARCH (TAG "e") MIN 1 COUNT 3 MODSEQ ${m2}`);
    expect(await es('ALL')).toBe(`* ESEARCH (TAG "e") ALL 1:3 MODSEQ ${m2}`);
    // UID SEARCH returns UIDs; the rule is the same.
    expect(/^\* ESEARCH .*$/m.exec(await c.cmd('e', 'UID SEARCH RETURN (MAX) MODSEQ 1'))![0]).toBe(`* ESEARCH (TAG "e") UID MAX 3 MODSEQ ${m3}`);
    expect(c.violations).toEqual([]);
    c.raw.close();
  });
});

describe('implicit CONDSTORE enable (RFC 7162 §3.1)', () => {
  it('the first FETCH MODSEQ sends OK [HIGHESTMODSEQ n] once, and FETCH FLAGS carries MODSEQ from then on', async () => {
    const c = await session();
    await fill(c, 'cs-fetch', 2);
    const sel = await c.cmd('s', 'SELECT cs-fetch');
    const highest = /HIGHESTMODSEQ (\d+)/.exec(sel)![1];
    // An IMAP4rev1 session, the first to select the mailbox: its messages are \Recent (RFC 3501 §2.3.2).
    expect(await c.cmd('f0', 'FETCH 1 (FLAGS)')).toBe('* 1 FETCH (UID 1 FLAGS (\\Recent))\r\nf0 OK FETCH completed\r\n');
    const first = await c.cmd('f1', 'FETCH 1 (MODSEQ)');
    expect(first).toMatch(new RegExp(`^\\* OK \\[HIGHESTMODSEQ ${highest}\\][^\\r]*\\r\\n\\* 1 FETCH \\(UID 1 MODSEQ \\(\\d+\\)\\)\\r\\nf1 OK`));
    const again = await c.cmd('f2', 'FETCH 2 (MODSEQ)');
    expect(again).not.toMatch(/HIGHESTMODSEQ/);
    expect(await c.cmd('f3', 'FETCH 2 (FLAGS)')).toMatch(/^\* 2 FETCH \(UID 2 MODSEQ \(\d+\) FLAGS \(\\Recent\)\)/);
    expect(c.violations).toEqual([]);
    c.raw.close();
  });

  it('SEARCH MODSEQ, STORE UNCHANGEDSINCE and ENABLE CONDSTORE in the selected state each announce HIGHESTMODSEQ the first time', async () => {
    const c = await session();
    await fill(c, 'cs-other', 1);
    const highest = /HIGHESTMODSEQ (\d+)/.exec(await c.cmd('s', 'SELECT cs-other'))![1];
    expect(await c.cmd('q', 'SEARCH MODSEQ 1')).toMatch(new RegExp(`^\\* OK \\[HIGHESTMODSEQ ${highest}\\]`));
    const d = await session();
    await d.cmd('s', 'SELECT cs-other');
    const st = await d.cmd('st', 'STORE 1 (UNCHANGEDSINCE 999999) +FLAGS (\\Seen)');
    expect(st).toMatch(new RegExp(`^\\* OK \\[HIGHESTMODSEQ ${highest}\\]`));
    expect(st).toMatch(/\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)/);
    const e = await session();
    await e.cmd('s', 'SELECT cs-other');
    expect(await e.cmd('en', 'ENABLE CONDSTORE')).toMatch(/^\* ENABLED CONDSTORE\r\n\* OK \[HIGHESTMODSEQ \d+\]/);
    // Not selected: nothing to announce.
    const g = await session();
    expect(await g.cmd('en', 'ENABLE CONDSTORE')).toBe('* ENABLED CONDSTORE\r\nen OK ENABLE completed\r\n');
    for (const x of [c, d, e, g]) {
      expect(x.violations).toEqual([]);
      x.raw.close();
    }
  });
});
