/**
 * Folder commands: LIST (LIST-EXTENDED, SPECIAL-USE, LIST-STATUS), LSUB,
 * CREATE (CREATE-SPECIAL-USE), RENAME, DELETE, SUBSCRIBE, STATUS — exact
 * transcripts over a raw socket, and imapflow's view of the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleMessage } from '../helpers/store.js';
import { decodeMailbox, encodeMailbox } from '../../node/imap/utf7.js';
import { flow, loggedIn, startSession, type ImapFixture, type Raw } from './helpers.js';

let f: ImapFixture;
let raw: Raw;
let stop: () => Promise<void>;
beforeAll(async () => ({ f, raw, stop } = await startSession()));
afterAll(() => stop?.());

describe('folders', () => {
  it('lists the default folders with special-use attributes', async () => {
    const r = await raw.cmd('l', 'LIST "" "*"');
    expect(r).toBe(
      [
        '* LIST (\\HasNoChildren \\Archive) "/" Archive',
        '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
        '* LIST (\\HasNoChildren) "/" INBOX',
        '* LIST (\\HasNoChildren \\Junk) "/" Junk',
        '* LIST (\\HasNoChildren \\Sent) "/" Sent',
        '* LIST (\\HasNoChildren \\Trash) "/" Trash',
        'l OK LIST completed',
        '',
      ].join('\r\n'),
    );
    expect(await raw.cmd('l2', 'LIST "" ""')).toBe('* LIST (\\Noselect) "/" ""\r\nl2 OK LIST completed\r\n');
    expect(await raw.cmd('l3', 'LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES UIDNEXT))')).toMatch(
      /^\* LIST \(\\HasNoChildren \\Archive\) "\/" Archive\r\n\* STATUS Archive \(MESSAGES 0 UIDNEXT 1\)\r\n/,
    );
  });

  it('creates with parents and special use, renames with children, deletes', async () => {
    expect(await raw.cmd('c1', 'CREATE "Projects/Haven/Design" (USE (\\Flagged))')).toBe('c1 OK CREATE completed\r\n');
    expect(await raw.cmd('c2', 'CREATE Projects')).toMatch(/^c2 NO \[ALREADYEXISTS\]/);
    expect(await raw.cmd('c3', 'CREATE X (USE (\\Bogus))')).toMatch(/^c3 NO \[CANNOT\]/);
    expect(await raw.cmd('l', 'LIST "" "Projects/%"')).toBe('* LIST (\\HasChildren) "/" Projects/Haven\r\nl OK LIST completed\r\n');
    expect(await raw.cmd('l2', 'LIST "Projects/" "*"')).toContain('* LIST (\\HasNoChildren \\Flagged) "/" Projects/Haven/Design\r\n');
    expect(await raw.cmd('r', 'RENAME Projects/Haven Work')).toBe('r OK RENAME completed\r\n');
    expect(await raw.cmd('l3', 'LIST "" "Work*"')).toBe('* LIST (\\HasChildren) "/" Work\r\n* LIST (\\HasNoChildren \\Flagged) "/" Work/Design\r\nl3 OK LIST completed\r\n');
    expect(await raw.cmd('d', 'DELETE Work/Design')).toBe('d OK DELETE completed\r\n');
    expect(await raw.cmd('d2', 'DELETE Work/Design')).toMatch(/^d2 NO \[NONEXISTENT\]/);
    expect(await raw.cmd('d3', 'DELETE INBOX')).toMatch(/^d3 NO \[CANNOT\]/);
  });

  it('subscribes and lists subscriptions (LSUB and LIST-EXTENDED)', async () => {
    await raw.cmd('c', 'CREATE Lists');
    expect(await raw.cmd('u', 'UNSUBSCRIBE Lists')).toBe('u OK UNSUBSCRIBE completed\r\n');
    expect(await raw.cmd('l', 'LSUB "" "L*"')).toBe('l OK LSUB completed\r\n');
    expect(await raw.cmd('l1', 'LIST "" "L*" RETURN (SUBSCRIBED)')).toBe('* LIST (\\HasNoChildren) "/" Lists\r\nl1 OK LIST completed\r\n');
    await raw.cmd('s', 'SUBSCRIBE Lists');
    expect(await raw.cmd('l2', 'LSUB "" "L*"')).toBe('* LSUB () "/" Lists\r\nl2 OK LSUB completed\r\n');
    expect(await raw.cmd('l3', 'LIST (SUBSCRIBED) "" "L*"')).toBe('* LIST (\\HasNoChildren \\Subscribed) "/" Lists\r\nl3 OK LIST completed\r\n');
  });

  it('reports STATUS with SIZE, DELETED and HIGHESTMODSEQ', async () => {
    const lease = await f.t.store.openMailbox(f.accountId);
    const inbox = lease.mailbox.folders.require('INBOX');
    const msg = sampleMessage();
    lease.mailbox.messages.append(inbox.id, msg, { flags: ['\\Deleted'] });
    const st = lease.mailbox.folders.status(inbox.id);
    lease.release();
    expect(await raw.cmd('s', 'STATUS inbox (MESSAGES UNSEEN DELETED SIZE UIDNEXT UIDVALIDITY HIGHESTMODSEQ)')).toBe(
      `* STATUS INBOX (MESSAGES 1 UNSEEN 1 DELETED 1 SIZE ${msg.length} UIDNEXT 2 UIDVALIDITY ${st.uidValidity} HIGHESTMODSEQ ${st.highestModseq})\r\ns OK STATUS completed\r\n`,
    );
    expect(await raw.cmd('s2', 'STATUS Nope (MESSAGES)')).toMatch(/^s2 NO \[NONEXISTENT\]/);
  });

  it('speaks modified UTF-7 to IMAP4rev1 clients and UTF-8 after ENABLE UTF8=ACCEPT', async () => {
    expect(encodeMailbox('日本語 & Co')).toBe('&ZeVnLIqe- &- Co');
    expect(decodeMailbox('&ZeVnLIqe- &- Co')).toBe('日本語 & Co');
    expect(await raw.cmd('u1', 'CREATE "Caf&AOk-"')).toBe('u1 OK CREATE completed\r\n');
    expect(await raw.cmd('u2', 'LIST "" "Caf*"')).toBe('* LIST (\\HasNoChildren) "/" Caf&AOk-\r\nu2 OK LIST completed\r\n');
    const other = await loggedIn(f);
    await other.cmd('e', 'ENABLE UTF8=ACCEPT');
    expect(await other.cmd('u3', 'LIST "" "Caf*"')).toBe(Buffer.from('* LIST (\\HasNoChildren) "/" "Café"\r\nu3 OK LIST completed\r\n').toString('latin1'));
    expect(await other.cmd('u4', 'SELECT "Café"')).toContain('u4 OK');
    other.close();
  });

  it('works for imapflow', async () => {
    const c = await flow(f);
    const list = await c.list();
    expect(list.find((m) => m.path === 'Sent')?.specialUse).toBe('\\Sent');
    await c.mailboxCreate('Flow/Sub');
    await c.mailboxRename('Flow/Sub', 'Flow/Renamed');
    const st = await c.status('Flow/Renamed', { messages: true, uidNext: true });
    expect(st).toMatchObject({ messages: 0, uidNext: 1 });
    await c.mailboxDelete('Flow/Renamed');
    expect((await c.list()).some((m) => m.path === 'Flow/Renamed')).toBe(false);
    await c.logout();
  });
});
