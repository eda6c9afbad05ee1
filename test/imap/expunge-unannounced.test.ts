/**
 * A message that arrives and is expunged between two of a session's
 * commands, the session never having been told of it. RFC 9051 §7.4.1: a
 * client's message numbers change only through EXISTS and EXPUNGE; §5.2: the
 * server must tell the client of a change once it may. If that session's own
 * EXPUNGE is the one that removes such a message, it must not be counted by
 * a later EXISTS without an EXPUNGE to follow (the client would hold a
 * message no FETCH returns and no EXPUNGE removes: the load-consistency
 * failure); the same when another session removed it, and under QRESYNC,
 * where removals are told as VANISHED (RFC 7162 §3.2.10).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checked, checkedSession } from './checker.js';
import { startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f.close());

/** A fresh session's view of the mailbox: the truth the others must match. */
async function truth(name: string): Promise<readonly number[]> {
  const fresh = await checkedSession(f);
  await fresh.cmd('s', `SELECT ${name}`);
  await fresh.cmd('f', 'FETCH 1:* (UID)');
  fresh.raw.close();
  return fresh.checker.view;
}

async function selected(name: string, enable?: string): Promise<Checked> {
  const c = await checkedSession(f);
  if (enable) await c.cmd('e', `ENABLE ${enable}`);
  await c.cmd('s', `SELECT ${name}`);
  return c;
}

async function append(c: Checked, name: string, subject: string): Promise<void> {
  const m = `Subject: ${subject}\r\n\r\nbody\r\n`;
  expect(await c.cmd('a', `APPEND ${name} {${m.length}+}\r\n${m}`)).toMatch(/a OK/);
}

describe('a message added and expunged between two commands of a session (RFC 9051 §7.4.1, §5.2)', () => {
  for (const [title, enable] of [['EXPUNGE responses', undefined], ['VANISHED under QRESYNC (RFC 7162 §3.2.10)', 'QRESYNC']] as const) {
    it(`its own EXPUNGE removing it leaves no message in its view that the mailbox lacks: ${title}`, async () => {
      const box = enable ? 'Race2' : 'Race1';
      const a = await checkedSession(f);
      await a.cmd('c', `CREATE ${box}`);
      await append(a, box, 'first');
      await a.cmd('s', `SELECT ${box}`);
      const b = await selected(box, enable);
      // a appends a second message and marks it \Deleted; b, between commands, has not been told of it.
      await append(a, box, 'second');
      await a.cmd('n', 'NOOP');
      expect(await a.cmd('d', 'STORE 2 +FLAGS.SILENT (\\Deleted)')).toMatch(/d OK/);
      // b's EXPUNGE removes it: the tagged OK of a's APPEND and STORE came before, so both changes happened.
      const r = await b.cmd('x', 'EXPUNGE');
      expect(r).toMatch(/x OK/);
      await b.cmd('n', 'NOOP');
      await b.cmd('f', 'FETCH 1:* (UID)');
      const want = await truth(box);
      expect(want).toHaveLength(1);
      expect(b.checker.view).toEqual(want);
      expect([...a.violations, ...b.violations]).toEqual([]);
      a.raw.close();
      b.raw.close();
    });
  }

  it('another session removing it leaves the view equal to the mailbox as well', async () => {
    const a = await checkedSession(f);
    await a.cmd('c', 'CREATE Race3');
    await append(a, 'Race3', 'first');
    await a.cmd('s', 'SELECT Race3');
    const b = await selected('Race3');
    await append(a, 'Race3', 'second');
    await a.cmd('n', 'NOOP');
    await a.cmd('d', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    expect(await a.cmd('x', 'EXPUNGE')).toMatch(/\* 2 EXPUNGE\r\nx OK/);
    await b.cmd('n', 'NOOP');
    await b.cmd('f', 'FETCH 1:* (UID)');
    expect(b.checker.view).toEqual(await truth('Race3'));
    expect([...a.violations, ...b.violations]).toEqual([]);
    a.raw.close();
    b.raw.close();
  });
});
