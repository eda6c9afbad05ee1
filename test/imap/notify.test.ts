/**
 * RFC 5465 NOTIFY over raw sockets: with SELECTED, another session's
 * appends, flag changes and expunges reach the watcher unasked (no IDLE, no
 * command); SELECTED-DELAYED holds expunges for a command; other mailboxes
 * are reported with STATUS, folder changes with LIST (\NonExistent, OLDNAME,
 * \Subscribed); MessageNew can carry fetch attributes; the session's own
 * folder commands are not echoed; NONE turns it all off; bad event groups
 * get BAD or NO [BADEVENT] and change nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sampleMessage } from '../helpers/store.js';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
const open: Raw[] = [];
beforeAll(async () => {
  f = await startFixture();
});
afterEach(() => {
  for (const r of open.splice(0)) r.close();
});
afterAll(async () => f.close());

async function session(): Promise<Raw> {
  const r = await Raw.connect(f.port);
  open.push(r);
  await login(r, f);
  return r;
}

async function append(r: Raw, mailbox: string, subject: string): Promise<string> {
  const m = sampleMessage({ subject });
  r.write(`ap APPEND ${mailbox} {${m.length}+}\r\n`);
  r.write(Buffer.concat([m, Buffer.from('\r\n')]));
  return r.reply('ap');
}

/** Waits for `line` to arrive unasked, then returns (and clears) what came. */
async function pushed(r: Raw, line: string): Promise<string> {
  await r.until((b) => b.includes(line));
  return r.take();
}

function status(r: Raw, name: string): Promise<string> {
  return r.cmd('st', `STATUS ${name} (UIDVALIDITY)`);
}

describe('NOTIFY', () => {
  it('pushes the selected mailbox changes of another session at once, with STATUS for other mailboxes', async () => {
    const w = await session();
    await w.cmd('s', 'SELECT INBOX');
    const set = await w.cmd('n', 'NOTIFY SET STATUS (SELECTED (MessageNew MessageExpunge FlagChange)) (MAILBOXES (Drafts Archive) (MessageNew MessageExpunge))');
    const vDrafts = /UIDVALIDITY (\d+)/.exec(await status(w, 'Drafts'))![1];
    const vArchive = /UIDVALIDITY (\d+)/.exec(await status(w, 'Archive'))![1];
    // The initial STATUS covers the watched mailboxes only, never the selected one.
    expect(set).toBe(
      `* STATUS Archive (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ${vArchive} UNSEEN 0)\r\n` +
        `* STATUS Drafts (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ${vDrafts} UNSEEN 0)\r\n` +
        'n OK NOTIFY completed\r\n',
    );

    const o = await session();
    expect(await append(o, 'INBOX', 'one')).toMatch(/ap OK/);
    // w is an IMAP4rev1 session: RECENT comes with EXISTS (RFC 3501 §7.3.2), the message recent for w, which saw it first.
    expect(await pushed(w, '* 1 EXISTS\r\n')).toBe('* 1 EXISTS\r\n* 1 RECENT\r\n');
    await o.cmd('s', 'SELECT INBOX');
    await o.cmd('f', 'STORE 1 +FLAGS.SILENT (\\Flagged)');
    expect(await pushed(w, 'FLAGS')).toBe('* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))\r\n');
    await o.cmd('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await pushed(w, '\\Deleted');
    await o.cmd('x', 'EXPUNGE');
    // An EXPUNGE with no command in progress: allowed by SELECTED (RFC 5465 §5.3).
    expect(await pushed(w, '* 1 EXPUNGE\r\n')).toBe('* 1 EXPUNGE\r\n');

    expect(await append(o, 'Archive', 'archived')).toMatch(/ap OK/);
    expect(await pushed(w, '\r\n')).toBe(`* STATUS Archive (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${vArchive} UNSEEN 1)\r\n`);
    // Junk is not watched: nothing comes, and a NOOP carries only the Drafts change after it.
    expect(await append(o, 'Junk', 'spam')).toMatch(/ap OK/);
    expect(await append(o, 'Drafts', 'draft')).toMatch(/ap OK/);
    expect(await pushed(w, '\r\n')).toBe(`* STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${vDrafts} UNSEEN 1)\r\n`);
    expect(await w.cmd('no', 'NOOP')).toBe('no OK NOOP completed\r\n');
  });

  it('SELECTED-DELAYED pushes new mail but keeps expunges for a command that may carry them', async () => {
    const w = await session();
    const o = await session();
    await append(o, 'Trash', 'a');
    await append(o, 'Trash', 'b');
    await w.cmd('s', 'SELECT Trash');
    expect(await w.cmd('n', 'NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge))')).toBe('n OK NOTIFY completed\r\n');
    await o.cmd('s', 'SELECT Trash');
    await o.cmd('d', 'UID STORE 1 +FLAGS.SILENT (\\Deleted)');
    await o.cmd('x', 'EXPUNGE');
    await append(o, 'Trash', 'c');
    // The new message is pushed with the expunged one still counted; the EXPUNGE waits,
    // so sequence numbers hold (the gone message has no data to fetch).
    expect(await pushed(w, 'EXISTS')).toBe('* 3 EXISTS\r\n* 3 RECENT\r\n');
    expect(await w.cmd('f', 'FETCH 1:* (UID)')).toBe('* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\nf OK FETCH completed\r\n');
    expect(await w.cmd('no', 'NOOP')).toBe('* 1 EXPUNGE\r\nno OK NOOP completed\r\n');
  });

  it('sends MessageNew fetch attributes without setting \\Seen', async () => {
    const w = await session();
    await w.cmd('s', 'SELECT Sent');
    expect(await w.cmd('n', 'NOTIFY SET (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] FLAGS) MessageExpunge))')).toBe('n OK NOTIFY completed\r\n');
    const o = await session();
    await append(o, 'Sent', 'pushed subject');
    const got = await pushed(w, ')\r\n');
    expect(got).toBe('* 1 EXISTS\r\n* 1 RECENT\r\n* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {27}\r\nSubject: pushed subject\r\n\r\n FLAGS (\\Recent))\r\n');
    expect(await w.cmd('f', 'FETCH 1 (FLAGS)')).toBe('* 1 FETCH (UID 1 FLAGS (\\Recent))\r\nf OK FETCH completed\r\n');
  });

  it('reports folders created, renamed, (un)subscribed and deleted elsewhere with LIST, but not its own', async () => {
    const w = await session();
    expect(await w.cmd('n', 'NOTIFY SET (PERSONAL (MailboxName SubscriptionChange))')).toBe('n OK NOTIFY completed\r\n');
    // Its own change is not echoed.
    expect(await w.cmd('c', 'CREATE Mine')).toBe('c OK CREATE completed\r\n');
    const o = await session();
    await o.cmd('c', 'CREATE Projects');
    expect(await pushed(w, '\r\n')).toBe('* LIST (\\HasNoChildren \\Subscribed) "/" Projects\r\n');
    await o.cmd('r', 'RENAME Projects Work');
    expect(await pushed(w, '\r\n')).toBe('* LIST (\\HasNoChildren \\Subscribed) "/" Work ("OLDNAME" (Projects))\r\n');
    await o.cmd('u', 'UNSUBSCRIBE Work');
    expect(await pushed(w, '\r\n')).toBe('* LIST (\\HasNoChildren) "/" Work\r\n');
    await o.cmd('u2', 'SUBSCRIBE Work');
    expect(await pushed(w, '\r\n')).toBe('* LIST (\\HasNoChildren \\Subscribed) "/" Work\r\n');
    await o.cmd('d', 'DELETE Work');
    expect(await pushed(w, '\r\n')).toBe('* LIST (\\NonExistent) "/" Work\r\n');
    // Message events were not asked for here.
    await append(o, 'INBOX', 'quiet');
    expect(await w.cmd('no', 'NOOP')).toBe('no OK NOOP completed\r\n');
    await w.cmd('dm', 'DELETE Mine');
  });

  it('NONE turns notifications off', async () => {
    const w = await session();
    await w.cmd('n', 'NOTIFY SET (INBOXES (MessageNew MessageExpunge))');
    const o = await session();
    await append(o, 'INBOX', 'told');
    expect(await pushed(w, '\r\n')).toMatch(/^\* STATUS INBOX \(MESSAGES \d+ /);
    expect(await w.cmd('n2', 'NOTIFY NONE')).toBe('n2 OK NOTIFY completed\r\n');
    await append(o, 'INBOX', 'not told');
    expect(await w.cmd('no', 'NOOP')).toBe('no OK NOOP completed\r\n');
  });

  it('takes the STATUS indicator as RFC 5465 §8 spells it (SET STATUS, no parentheses) and MessageNew alone for other mailboxes', async () => {
    const w = await session();
    await w.cmd('c', 'CREATE notify-x');
    const v = /UIDVALIDITY (\d+)/.exec(await status(w, 'notify-x'))![1];
    // §3.1: STATUS asks for a STATUS of every watched mailbox before the OK.
    expect(await w.cmd('n', 'NOTIFY SET STATUS (mailboxes notify-x (MessageNew))')).toBe(
      `* STATUS notify-x (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ${v} UNSEEN 0)\r\nn OK NOTIFY completed\r\n`,
    );
    const o = await session();
    expect(await append(o, 'notify-x', 'watched')).toMatch(/ap OK/);
    expect(await pushed(w, '\r\n')).toBe(`* STATUS notify-x (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${v} UNSEEN 1)\r\n`);
    // Without STATUS no initial STATUS; the connection stays in service throughout.
    expect(await w.cmd('n2', 'NOTIFY SET (mailboxes notify-x (MessageNew MessageExpunge))')).toBe('n2 OK NOTIFY completed\r\n');
    expect(await w.cmd('b1', 'NOTIFY SET (STATUS) (mailboxes notify-x (MessageNew))')).toMatch(/^b1 BAD /);
    expect(await w.cmd('b2', 'NOTIFY SET STATUS')).toMatch(/^b2 BAD /);
    expect(await w.cmd('no', 'NOOP')).toBe('no OK NOOP completed\r\n');
  });

  it('refuses malformed or unsupported event groups and keeps the earlier setting', async () => {
    const w = await session();
    await w.cmd('n', 'NOTIFY SET (INBOXES (MessageNew MessageExpunge))');
    expect(await w.cmd('b1', 'NOTIFY SET (SELECTED (MessageNew))')).toBe('b1 BAD MessageNew and MessageExpunge go together; name both\r\n');
    expect(await w.cmd('b2', 'NOTIFY SET (SELECTED (MailboxName))')).toMatch(/^b2 BAD SELECTED takes only message events/);
    expect(await w.cmd('b3', 'NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))')).toMatch(/^b3 BAD fetch attributes on MessageNew/);
    expect(await w.cmd('b4', 'NOTIFY SET (PERSONAL (FlagChange))')).toMatch(/^b4 BAD FlagChange needs MessageNew/);
    expect(await w.cmd('b5', 'NOTIFY SET (ANYWHERE (MessageNew MessageExpunge))')).toMatch(/^b5 BAD ANYWHERE is not a NOTIFY mailbox filter/);
    expect(await w.cmd('b6', 'NOTIFY SET (PERSONAL (MailboxMetadataChange))')).toBe(
      'b6 NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] MailboxMetadataChange is not supported\r\n',
    );
    // The INBOXES setting still holds.
    const o = await session();
    await append(o, 'INBOX', 'still told');
    expect(await pushed(w, '\r\n')).toMatch(/^\* STATUS INBOX /);
  });
});

describe('NOTIFY overflow (RFC 5465 §5.8)', () => {
  /** A fresh mailbox (the tests count its messages) with a 64 KB backlog limit, and two logged-in sessions: the watcher and another. */
  async function watcherAndOther(): Promise<{ g: ImapFixture; w: Raw; o: Raw }> {
    const g = await startFixture({ limits: { notifyBacklogBytes: 64 * 1024 } });
    const w = await Raw.connect(g.port);
    const o = await Raw.connect(g.port);
    await login(w, g);
    await login(o, g);
    return { g, w, o };
  }

  it('a watcher that stops reading gets NOTIFICATIONOVERFLOW and plain updates at its next command; NOTIFY SET starts again', async () => {
    const { g, w, o } = await watcherAndOther();
    try {
      await w.cmd('s', 'SELECT INBOX');
      await w.cmd('n', 'NOTIFY SET (SELECTED (MessageNew (UID BODY.PEEK[]) MessageExpunge))');
      // The watcher stops reading; each new message is pushed whole, so the server's queue for it grows once the kernel's buffers are full.
      w.socket.pause();
      const big = sampleMessage({ subject: 'big', body: 'x'.repeat(256 * 1024) });
      const total = 96; // 24 MB: more than loopback's socket buffers can hold
      for (let i = 0; i < total; i++) {
        o.write(`a${i} APPEND INBOX {${big.length}+}\r\n`);
        o.write(Buffer.concat([big, Buffer.from('\r\n')]));
        expect(await o.reply(`a${i}`)).toMatch(/OK \[APPENDUID/);
      }
      w.socket.resume();
      await w.until((b) => b.includes('NOTIFICATIONOVERFLOW'));
      // Whatever was pushed before the overflow, the rest waits for a command: NOOP brings the count up to date.
      const noop = await w.cmd('no', 'NOOP');
      const seen = w.take() + noop;
      const pushedBodies = (seen.match(/ FETCH \(UID \d+ BODY\[\] \{/g) ?? []).length;
      expect(pushedBodies).toBeGreaterThan(0);
      expect(pushedBodies).toBeLessThan(total);
      expect(seen).toMatch(new RegExp(`\\* ${total} EXISTS\\r\\n`));
      expect(seen).toMatch(/\* OK \[NOTIFICATIONOVERFLOW\] [^\r\n]*NOTIFY SET/);
      // Set again, notifications flow again.
      expect(await w.cmd('n2', 'NOTIFY SET (SELECTED (MessageNew MessageExpunge))')).toBe('n2 OK NOTIFY completed\r\n');
      expect(await append(o, 'INBOX', 'after')).toMatch(/ap OK/);
      expect(await pushed(w, `* ${total + 1} EXISTS\r\n`)).toBe(`* ${total + 1} EXISTS\r\n* ${total + 1} RECENT\r\n`);
      w.close();
      o.close();
    } finally {
      await g.close();
    }
  });

  it('a backlog that is the answer to the watcher\'s own command is no overflow', async () => {
    const { g, w, o } = await watcherAndOther();
    try {
      // One 8 MB message: its FETCH answer alone is more than the kernel's buffers and far more than the backlog limit.
      const huge = sampleMessage({ subject: 'huge', body: 'y'.repeat(8 * 1024 * 1024) });
      o.write(`h APPEND INBOX {${huge.length}+}\r\n`);
      o.write(Buffer.concat([huge, Buffer.from('\r\n')]));
      expect(await o.reply('h')).toMatch(/h OK/);
      await w.cmd('s', 'SELECT INBOX');
      await w.cmd('n', 'NOTIFY SET (SELECTED (MessageNew MessageExpunge))');
      w.socket.pause();
      w.write('f FETCH 1 BODY.PEEK[]\r\n');
      // While the answer waits for the paused client, mail arrives; then the client reads on.
      expect(await append(o, 'INBOX', 'during the fetch')).toMatch(/ap OK/);
      w.socket.resume();
      const reply = await w.reply('f');
      expect(reply).toMatch(/^\* 1 FETCH \(UID 1 BODY\[\] \{/);
      // Still notified, with the new message told as the command ends.
      expect(reply).toMatch(/\)\r\n\* 2 EXISTS\r\n\* 2 RECENT\r\nf OK FETCH completed\r\n$/);
      expect(reply).not.toMatch(/NOTIFICATIONOVERFLOW/);
      expect(await append(o, 'INBOX', 'after the fetch')).toMatch(/ap OK/);
      expect(await pushed(w, '* 3 EXISTS\r\n')).toBe('* 3 EXISTS\r\n* 3 RECENT\r\n');
      w.close();
      o.close();
    } finally {
      await g.close();
    }
  });
});
