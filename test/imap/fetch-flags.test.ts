/**
 * FETCH of only UID, FLAGS and MODSEQ takes its own path (the store's packed
 * flag pages, bench/imap's `UID FETCH 1:* (FLAGS)`). It must answer exactly
 * what the general path answers, including for a session whose view lags
 * behind the mailbox: a message another session expunged is skipped (no
 * EXPUNGE during FETCH), one it appended is not yet shown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../node/store/index.js';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f.close());

/** The FETCH lines of a reply with every item but UID, MODSEQ and FLAGS removed. */
function flagsOnly(reply: string): string[] {
  return reply
    .split('\r\n')
    .filter((l) => l.startsWith('* ') && l.includes(' FETCH '))
    .map((l) => l.replace(/ RFC822\.SIZE \d+/, ''));
}

describe('FETCH FLAGS fast path', () => {
  it('answers as the general path does, for UID and sequence sets, with keywords and a stale view', async () => {
    const a = await Raw.connect(f.port);
    const b = await Raw.connect(f.port);
    await login(a, f);
    await login(b, f);
    const flagSets = ['()', '(\\Seen)', '(\\Seen \\Flagged $Work Later)', '($Junk)', '(\\Answered \\Deleted \\Draft)'];
    for (let i = 0; i < 10; i++) {
      const m = `Subject: m${i}\r\n\r\nbody ${i}\r\n`;
      expect(await a.cmd(`a${i}`, `APPEND INBOX ${flagSets[i % 5]} {${m.length}+}\r\n${m}`)).toMatch(/OK \[APPENDUID/);
    }
    await a.cmd('s', 'SELECT INBOX');
    await b.cmd('s', 'SELECT INBOX');
    // b expunges UID 5 (it carries \Deleted) and appends one more; a has not been told yet.
    expect(await b.cmd('e', 'UID EXPUNGE 5')).toMatch(/\* 5 EXPUNGE\r\n/);
    expect(await b.cmd('ap', 'APPEND INBOX ($Late) {10+}\r\nSubject: x')).toMatch(/OK/);

    // A FETCH by sequence number may announce the new message but never the expunge (RFC 9051 §7.5.1).
    expect(await a.cmd('x', 'FETCH 1 (FLAGS)')).toMatch(/\* 11 EXISTS\r\n/);
    const same = async (tag: string, set: string, items: string) => {
      const fast = await a.cmd(tag, `${set} ${items}`);
      expect(fast).not.toMatch(/EXPUNGE|EXISTS/);
      expect(flagsOnly(fast)).toEqual(flagsOnly(await a.cmd(`${tag}g`, `${set} (FLAGS RFC822.SIZE)`)));
      return flagsOnly(fast);
    };
    const stale = await same('f1', 'FETCH 1:*', '(FLAGS)');
    expect(stale).toHaveLength(10);
    // a, an IMAP4rev1 session, was the first to select INBOX: UIDs 1-10 are \Recent for it, b's UID 11 is b's (RFC 3501 §2.3.2).
    expect(stale.slice(3, 6)).toEqual(['* 4 FETCH (UID 4 FLAGS ($Junk \\Recent))', '* 6 FETCH (UID 6 FLAGS (\\Recent))', '* 7 FETCH (UID 7 FLAGS (\\Seen \\Recent))']);
    expect(stale[9]).toBe('* 11 FETCH (UID 11 FLAGS ($Late))');
    await same('f2', 'FETCH 2:4,7,9:*', '(UID FLAGS)');
    // After a NOOP a's view catches up: UID 5 is gone and UID 11 is message 10.
    expect(await a.cmd('n', 'NOOP')).toMatch(/\* 5 EXPUNGE\r\n/);
    expect(await same('f3', 'UID FETCH 1:4', '(FLAGS)')).toEqual([
      '* 1 FETCH (UID 1 FLAGS (\\Recent))',
      '* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent))',
      '* 3 FETCH (UID 3 FLAGS (\\Seen \\Flagged $Work Later \\Recent))',
      '* 4 FETCH (UID 4 FLAGS ($Junk \\Recent))',
    ]);
    expect(await same('f4', 'UID FETCH 3,5:8,10:*', 'FLAGS')).toHaveLength(6);
    expect(await same('f5', 'UID FETCH 10:*', '(FLAGS)')).toEqual(['* 9 FETCH (UID 10 FLAGS (\\Answered \\Deleted \\Draft \\Recent))', '* 10 FETCH (UID 11 FLAGS ($Late))']);
    // With CONDSTORE on, MODSEQ comes with FLAGS but not without it.
    await a.cmd('c', 'ENABLE CONDSTORE');
    const withModseq = await same('f6', 'FETCH 1:*', '(FLAGS)');
    expect(withModseq.every((l) => /^\* \d+ FETCH \(UID \d+ MODSEQ \(\d+\) FLAGS \(/.test(l))).toBe(true);
    expect(flagsOnly(await a.cmd('f7', 'FETCH 1:2 (UID)'))).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)']);
    a.close();
    b.close();
  });

  it('answers from the flags read at SELECT while nothing changed, and from the mailbox once something did', async () => {
    const g = await startFixture();
    try {
      const a = await Raw.connect(g.port);
      const b = await Raw.connect(g.port);
      await login(a, g);
      await login(b, g);
      await a.cmd('c', 'CREATE Cache');
      const flagSets = ['($Junk)', '()', '(\\Answered \\Seen)', '(\\Flagged Later)'];
      for (let i = 0; i < 12; i++) {
        const m = `Subject: c${i}\r\n\r\nbody ${i}\r\n`;
        await a.cmd(`a${i}`, `APPEND Cache ${flagSets[i % 4]} {${m.length}+}\r\n${m}`);
      }
      await a.cmd('s0', 'SELECT Cache');
      await a.cmd('x', 'UID STORE 5 +FLAGS.SILENT (\\Deleted)');
      await a.cmd('e', 'EXPUNGE');
      await a.cmd('s', 'SELECT Cache');
      const same = async (tag: string, set: string) => {
        const fast = flagsOnly(await a.cmd(tag, `${set} (FLAGS)`));
        expect(fast).toEqual(flagsOnly(await a.cmd(`${tag}g`, `${set} (FLAGS RFC822.SIZE)`)));
        return fast;
      };
      const all = await same('f1', 'FETCH 1:*');
      expect(all).toHaveLength(11);
      expect(all[0]).toBe('* 1 FETCH (UID 1 FLAGS ($Junk))');
      expect(all[3]).toBe('* 4 FETCH (UID 4 FLAGS (\\Flagged Later))');
      expect(all[4]).toBe('* 5 FETCH (UID 6 FLAGS ())');
      expect(await same('f2', 'UID FETCH 2:4,9,11:*')).toHaveLength(6);
      expect(await same('f3', 'FETCH 3,5:6')).toEqual(['* 3 FETCH (UID 3 FLAGS (\\Seen \\Answered))', '* 5 FETCH (UID 6 FLAGS ())', '* 6 FETCH (UID 7 FLAGS (\\Seen \\Answered))']);
      // Another session changes UID 3: every line a then sends for UID 3 carries the change.
      await b.cmd('s', 'SELECT Cache');
      await b.cmd('t', 'UID STORE 3 +FLAGS.SILENT ($New)');
      const after = flagsOnly(await a.cmd('f4', 'UID FETCH 1:4 (FLAGS)')).filter((l) => l.includes('UID 3 '));
      expect(after.length).toBeGreaterThan(0);
      for (const l of after) expect(l).toBe('* 3 FETCH (UID 3 FLAGS (\\Seen \\Answered $New))');
      // A change this node's sessions hear nothing of (another process on the same files, as the CLI would be) still shows:
      // the folder's HIGHESTMODSEQ moved, so the SELECT-time flags are not used.
      await a.cmd('s2', 'SELECT Cache');
      const other = Store.open({ dataDir: g.t.dataDir, masterKey: g.t.masterKey });
      try {
        const lease = await other.authenticate(g.address, g.password);
        lease.mailbox.messages.storeFlags(lease.mailbox.folders.require('Cache').id, [4], 'add', ['$Elsewhere']);
        lease.release();
      } finally {
        other.close();
      }
      expect(flagsOnly(await a.cmd('f5', 'FETCH 4 (FLAGS)'))).toEqual(['* 4 FETCH (UID 4 FLAGS (\\Flagged Later $Elsewhere))']);
      a.close();
      b.close();
    } finally {
      await g.close();
    }
  });
});
