/**
 * SEARCH (every key family, nested OR/NOT, full text through FTS5),
 * ESEARCH, SEARCHRES, SORT and THREAD — exact responses over a raw socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
let raw: Raw;

function msg(o: { from: string; to?: string; subject: string; date: string; id: string; refs?: string; body: string; extra?: string }): Buffer {
  return Buffer.from(
    [
      `From: ${o.from}`,
      `To: ${o.to ?? 'alice@example.test'}`,
      `Subject: ${o.subject}`,
      `Date: ${o.date}`,
      `Message-ID: <${o.id}>`,
      ...(o.refs ? [`In-Reply-To: <${o.refs}>`, `References: <${o.refs}>`] : []),
      ...(o.extra ? [o.extra] : []),
      '',
      o.body,
      '',
    ].join('\r\n'),
  );
}

beforeAll(async () => {
  f = await startFixture();
  raw = await Raw.connect(f.port);
  await login(raw, f);
  const lease = await f.t.store.openMailbox(f.accountId);
  const inbox = lease.mailbox.folders.require('INBOX').id;
  const add = (m: Buffer, flags: string[], internal: string) => lease.mailbox.messages.append(inbox, m, { flags, internalDate: Date.parse(internal) });
  add(msg({ from: 'Bob <bob@example.net>', subject: 'Budget plan', date: 'Mon, 2 Feb 2026 10:00:00 +0000', id: 'm1@x', body: 'The quarterly budget is attached.', extra: 'X-Priority: 1' }), ['\\Seen'], '2026-02-02T10:00:00Z');
  add(msg({ from: 'Carol <carol@example.org>', subject: 'Re: Budget plan', date: 'Tue, 3 Feb 2026 10:00:00 +0000', id: 'm2@x', refs: 'm1@x', body: 'Looks fine to me, zebra.' }), ['\\Flagged'], '2026-02-03T10:00:00Z');
  add(msg({ from: 'Dave <dave@example.com>', subject: 'Lunch', date: 'Wed, 4 Feb 2026 10:00:00 +0000', id: 'm3@x', body: 'Pizza on Friday? ' + 'x'.repeat(2000) }), ['$Food'], '2026-02-04T10:00:00Z');
  add(msg({ from: 'Bob <bob@example.net>', subject: 'Re: Re: Budget plan', date: 'Thu, 5 Feb 2026 10:00:00 +0000', id: 'm4@x', refs: 'm2@x', body: 'Agreed.' }), ['\\Seen', '\\Answered'], '2026-02-05T10:00:00Z');
  lease.release();
  await raw.cmd('s', 'SELECT INBOX');
});
afterAll(async () => {
  raw.close();
  await f.close();
});

const search = async (q: string) => {
  const r = await raw.cmd('q', q);
  const m = /^\* (SEARCH|ESEARCH|SORT|THREAD)(.*)\r\n/m.exec(r);
  expect(r).toMatch(/q OK/);
  return m ? m[2].trim() : '';
};

describe('SEARCH', () => {
  it('matches flags, keywords, sizes and sets', async () => {
    expect(await search('SEARCH SEEN')).toBe('1 4');
    expect(await search('SEARCH UNSEEN')).toBe('2 3');
    expect(await search('SEARCH KEYWORD $Food')).toBe('3');
    expect(await search('SEARCH LARGER 1000')).toBe('3');
    expect(await search('SEARCH 2:* UID 1:3')).toBe('2 3');
    expect(await search('UID SEARCH NOT 1')).toBe('2 3 4');
    expect(await search('SEARCH OR FLAGGED ANSWERED')).toBe('2 4');
    expect(await search('SEARCH NOT (OR SEEN FLAGGED)')).toBe('3');
    // This IMAP4rev1 session was the first to select INBOX after the appends: all four are recent for it (RFC 3501 §6.4.4 NEW).
    expect(await search('SEARCH ALL NEW')).toBe('2 3');
  });

  it('matches dates (internal and sent)', async () => {
    expect(await search('SEARCH SINCE 4-Feb-2026')).toBe('3 4');
    expect(await search('SEARCH BEFORE 3-Feb-2026')).toBe('1');
    expect(await search('SEARCH ON 3-Feb-2026')).toBe('2');
    expect(await search('SEARCH SENTSINCE 5-Feb-2026')).toBe('4');
    expect(await search('SEARCH SENTBEFORE 3-Feb-2026')).toBe('1');
    // WITHIN (RFC 5032): relative to now; the internal dates are in February 2026.
    const ageDays = (Date.now() - Date.parse('2026-02-04T10:00:00Z')) / 86_400_000;
    expect(await search(`SEARCH YOUNGER ${Math.floor((ageDays + 0.5) * 86_400)}`)).toBe('3 4');
    expect(await search(`SEARCH OLDER ${Math.floor((ageDays + 0.5) * 86_400)}`)).toBe('1 2');
    expect(await search('SEARCH YOUNGER 60')).toBe('');
  });

  it('matches headers and full text', async () => {
    expect(await search('SEARCH FROM bob')).toBe('1 4');
    expect(await search('SEARCH SUBJECT "budget plan"')).toBe('1 2 4');
    expect(await search('SEARCH HEADER X-Priority 1')).toBe('1');
    expect(await search('SEARCH TO alice')).toBe('1 2 3 4');
    expect(await search('SEARCH BODY zebra')).toBe('2');
    expect(await search('SEARCH TEXT pizza')).toBe('3');
    expect(await search('SEARCH TEXT Lunch')).toBe('3');
    expect(await search('SEARCH BODY Lunch')).toBe('');
    expect(await search('SEARCH CHARSET UTF-8 TEXT {6}\r\nbudget')).toBe('1 2 4');
  });

  it('answers ESEARCH with RETURN options and saves results for $', async () => {
    expect(await raw.cmd('e', 'UID SEARCH RETURN (MIN MAX COUNT ALL) FROM bob')).toBe('* ESEARCH (TAG "e") UID MIN 1 MAX 4 ALL 1,4 COUNT 2\r\ne OK UID SEARCH completed\r\n');
    expect(await raw.cmd('e2', 'SEARCH RETURN () UNSEEN')).toBe('* ESEARCH (TAG "e2") ALL 2:3\r\ne2 OK SEARCH completed\r\n');
    expect(await raw.cmd('e3', 'SEARCH RETURN (SAVE) FLAGGED')).toBe('e3 OK SEARCH completed\r\n');
    expect(await raw.cmd('e4', 'FETCH $ (UID)')).toBe('* 2 FETCH (UID 2)\r\ne4 OK FETCH completed\r\n');
    expect(await search('SEARCH $')).toBe('2');
  });

  it('reports MODSEQ for a MODSEQ search', async () => {
    const r = await raw.cmd('m', 'SEARCH MODSEQ 1');
    // The first CONDSTORE enabling command in the selected state announces HIGHESTMODSEQ (RFC 7162 §3.1).
    expect(r).toMatch(/^\* OK \[HIGHESTMODSEQ \d+\][^\r]*\r\n\* SEARCH 1 2 3 4 \(MODSEQ \d+\)\r\n/);
  });
});

describe('SORT and THREAD', () => {
  it('sorts by the stored fields', async () => {
    expect(await search('SORT (SUBJECT) UTF-8 ALL')).toBe('1 2 4 3');
    expect(await search('SORT (REVERSE DATE) UTF-8 ALL')).toBe('4 3 2 1');
    expect(await search('SORT (FROM REVERSE SIZE) UTF-8 ALL')).toBe('4 1 2 3');
    expect(await search('UID SORT (SIZE) UTF-8 SEEN')).toBe('1 4');
    // SORT=DISPLAY (RFC 5957): by display name, ties by sequence number.
    expect(await search('SORT (DISPLAYFROM) UTF-8 ALL')).toBe('1 4 2 3');
    expect(await search('SORT (REVERSE DISPLAYFROM) UTF-8 ALL')).toBe('3 2 1 4');
  });

  it('threads by references and by subject', async () => {
    expect(await search('THREAD REFERENCES UTF-8 ALL')).toBe('(1 2 4)(3)');
    expect(await search('THREAD ORDEREDSUBJECT UTF-8 ALL')).toBe('(1 (2)(4))(3)');
  });
});
