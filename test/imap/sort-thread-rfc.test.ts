/**
 * SORT (RFC 5256 §3, RFC 5957), THREAD (RFC 5256 §3, §4) and ENVELOPE
 * address lists (RFC 9051 §7.5.2, RFC 3501 §7.4.2) against the real server:
 * exact responses over a raw socket, and Python's imaplib (an independent
 * client with SORT and THREAD support) for the same answers. Fixtures carry
 * the edge cases the RFCs name: Re:/Fwd:/[list]/(fwd) subjects and encoded
 * words, display names against addr-mailboxes, group syntax, a source route,
 * and a References chain that would loop.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectNewFolder, startSession, type ImapFixture, type Raw } from './helpers.js';

let f: ImapFixture;
let raw: Raw;

function mail(headers: string[], body = 'body'): Buffer {
  return Buffer.from(headers.join('\r\n') + '\r\n\r\n' + body + '\r\n');
}

/** Stores `messages` in a new folder, in order, all with the internal date 10 January 2026, and selects it. */
const folder = (name: string, messages: Buffer[]) => selectNewFolder(f, raw, name, messages, { internalDate: Date.UTC(2026, 0, 10) });

/** The payload of the one untagged SORT or THREAD response. */
async function ask(cmd: string): Promise<string> {
  const r = await raw.cmd('q', cmd);
  expect(r).toMatch(/q OK/);
  return /^\* (?:SORT|THREAD)(.*)\r\n/m.exec(r)![1].trim();
}

let stop: () => Promise<void>;
beforeAll(async () => ({ f, raw, stop } = await startSession()));
afterAll(() => stop?.());

describe('SORT (RFC 5256 §3, RFC 5957)', () => {
  beforeAll(() =>
    folder('Sorting', [
      // 1
      mail(['From: Zed <alice@x.test>', 'To: bob@y.test', 'Cc: Carol <carol@z.test>', 'Subject: Re: [list] Apple', 'Date: Thu, 1 Jan 2026 10:00:00 +0000']),
      // 2
      mail(['From: Adam <zoe@x.test>', 'To: Amy <yves@y.test>', 'Subject: apple (fwd)', 'Date: Sat, 3 Jan 2026 10:00:00 +0000']),
      // 3: "Fwd:" inside an encoded word goes too: step 1 decodes before the leaders are removed.
      mail(['From: <mike@x.test>', 'To: undisclosed-recipients:;', 'Subject: =?UTF-8?Q?Fwd=3A_Banana?=', 'Date: Fri, 2 Jan 2026 10:00:00 +0000']),
      // 4: the same addr-mailbox as 1 at another host.
      mail(['From: Bea <alice@w.test>', 'To: "" <ann@y.test>', 'Cc: amos@z.test', 'Subject: [fwd: Re: APPLE]', 'Date: Fri, 2 Jan 2026 09:00:00 -0500']),
      // 5: no From, no Date (the internal date, 10 January, stands in).
      mail(['Subject: Cherry']),
    ]),
  );

  it('SUBJECT sorts by base subject under i;ascii-casemap, ties by sequence number (§2.1, §3)', async () => {
    // APPLE (1, 2, 4), BANANA (3), CHERRY (5).
    expect(await ask('SORT (SUBJECT) UTF-8 ALL')).toBe('1 2 4 3 5');
    expect(await ask('SORT (REVERSE SUBJECT) UTF-8 ALL')).toBe('5 3 1 2 4');
  });

  it('FROM, TO and CC sort by the addr-mailbox of the first address, not the name or host (§3)', async () => {
    // FROM: "" (5), ALICE (1, 4 at another host: a tie), MIKE (3), ZOE (2).
    expect(await ask('SORT (FROM) UTF-8 ALL')).toBe('5 1 4 3 2');
    // REVERSE turns the key it precedes; the sequence-number tie break stays ascending.
    expect(await ask('SORT (REVERSE FROM) UTF-8 ALL')).toBe('2 3 1 4 5');
    // TO: a group has no address (3), none (5), then ANN, BOB, YVES.
    expect(await ask('SORT (TO) UTF-8 ALL')).toBe('3 5 4 1 2');
    expect(await ask('SORT (CC) UTF-8 ALL')).toBe('2 3 5 4 1');
  });

  it('DISPLAYFROM and DISPLAYTO use the display name, else the address (RFC 5957 §3)', async () => {
    // "" (5), ADAM (2), BEA (4), MIKE@X.TEST (3, no name), ZED (1).
    expect(await ask('SORT (DISPLAYFROM) UTF-8 ALL')).toBe('5 2 4 3 1');
    // An empty name counts as none: ANN@Y.TEST (4); AMY (2); BOB@Y.TEST (1).
    expect(await ask('SORT (DISPLAYTO) UTF-8 ALL')).toBe('3 5 2 4 1');
  });

  it('compares with i;ascii-casemap, which folds a-z to A-Z and nothing else (RFC 4790 §9.2)', async () => {
    // Folded to upper case, "_" (0x5F) sorts after "ALICE"; a lower-case fold would put it first.
    await folder('Display', [mail(['From: "_Robot" <r@x.test>', 'Subject: b']), mail(['From: alice <a@x.test>', 'Subject: a'])]);
    expect(await ask('SORT (DISPLAYFROM) UTF-8 ALL')).toBe('2 1');
    expect(await ask('SORT (REVERSE DISPLAYFROM) UTF-8 ALL')).toBe('1 2');
    expect(await raw.cmd('s', 'SELECT Sorting')).toMatch(/s OK/);
  });

  it('applies REVERSE per key across several keys, DATE in UTC (§2.2)', async () => {
    // Dates in UTC: 1 (1 Jan 10:00), 3 (2 Jan 10:00), 4 (2 Jan 14:00), 2 (3 Jan), 5 (10 Jan).
    expect(await ask('SORT (DATE) UTF-8 ALL')).toBe('1 3 4 2 5');
    expect(await ask('SORT (SUBJECT REVERSE DATE) UTF-8 ALL')).toBe('2 4 1 3 5');
    expect(await ask('UID SORT (REVERSE SUBJECT DATE) UTF-8 NOT FROM zoe')).toBe('5 3 1 4');
  });
});

describe('THREAD (RFC 5256 §3, §4)', () => {
  beforeAll(() =>
    folder('Threads', [
      // The issue's case: 2's References "a c" make a the parent of c; c (3) references b (2),
      // a loop not made, and its earlier parent is broken: (3 2)(1), dated 3 < 1.
      mail(['Message-ID: <a@t>', 'Subject: one', 'Date: Sat, 3 Jan 2026 10:00:00 +0000']),
      mail(['Message-ID: <b@t>', 'References: <a@t> <c@t>', 'Subject: two', 'Date: Fri, 2 Jan 2026 10:00:00 +0000']),
      mail(['Message-ID: <c@t>', 'References: <b@t>', 'Subject: three', 'Date: Thu, 1 Jan 2026 10:00:00 +0000']),
      // A broken chain: the parent is missing, two replies hang off it; one more with that subject.
      mail(['Message-ID: <d@t>', 'In-Reply-To: <missing@t>', 'Subject: Re: Lunch', 'Date: Sun, 4 Jan 2026 10:00:00 +0000']),
      mail(['Message-ID: <e@t>', 'References: <missing@t>', 'Subject: RE: lunch', 'Date: Mon, 5 Jan 2026 10:00:00 +0000']),
      mail(['Message-ID: <f@t>', 'Subject: LUNCH', 'Date: Tue, 6 Jan 2026 10:00:00 +0000']),
    ]),
  );

  it('REFERENCES: links, loops, dummies and subject merging as §4 says', async () => {
    // 4 and 5 share the dummy <missing@t>, kept at the root with two children; 6 has their base
    // subject and is no reply, so step 6 makes it a child of the dummy; siblings by date.
    expect(await ask('THREAD REFERENCES UTF-8 ALL')).toBe('(3 2)(1)((4)(5)(6))');
    expect(await ask('UID THREAD REFERENCES UTF-8 1:3')).toBe('(3 2)(1)');
  });

  it('ORDEREDSUBJECT: one thread per base subject, children of its earliest message (§3)', async () => {
    // Subjects compare under i;ascii-casemap: "Re: Lunch", "RE: lunch" and "LUNCH" are one thread.
    expect(await ask('THREAD ORDEREDSUBJECT UTF-8 ALL')).toBe('(3)(2)(1)(4 (5)(6))');
  });
});

describe('ENVELOPE address lists (RFC 9051 §7.5.2, RFC 3501 §7.4.2)', () => {
  beforeAll(() =>
    folder('Env', [
      mail([
        'From: Real Name <user@domain.test>',
        'To: group: g1@d1.test, g2@d2.test;, group2: g3@d3.test;',
        'Cc: foo <>, bar@x.test',
        'Bcc: <@route.test:user@domain.test>',
        'Subject: env',
        'Date: Thu, 1 Jan 2026 10:00:00 +0000',
      ]),
    ]),
  );

  it('writes groups as start and end markers, keeps the route, invents no address', async () => {
    const r = await raw.cmd('q', 'FETCH 1 ENVELOPE');
    expect(r).toBe(
      '* 1 FETCH (UID 1 ENVELOPE ("Thu, 1 Jan 2026 10:00:00 +0000" "env" (("Real Name" NIL "user" "domain.test")) (("Real Name" NIL "user" "domain.test")) (("Real Name" NIL "user" "domain.test")) ' +
        '((NIL NIL "group" NIL)(NIL NIL "g1" "d1.test")(NIL NIL "g2" "d2.test")(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.test")(NIL NIL NIL NIL)) ' +
        '((NIL NIL "bar" "x.test")) ((NIL "@route.test" "user" "domain.test")) NIL NIL))\r\nq OK FETCH completed\r\n',
    );
  });
});

describe('an independent client (Python imaplib)', () => {
  it('gets the same SORT and THREAD answers', async () => {
    const script = [
      'import imaplib, sys',
      'c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))',
      'c.login(sys.argv[2], sys.argv[3])',
      'c.select("Sorting")',
      'print(c.sort("(FROM)", "UTF-8", "ALL")[1][0].decode())',
      'print(c.sort("(SUBJECT)", "UTF-8", "ALL")[1][0].decode())',
      'c.select("Threads")',
      'print(c.thread("REFERENCES", "UTF-8", "ALL")[1][0].decode())',
      'c.logout()',
    ].join('\n');
    const { stdout } = await promisify(execFile)('python3', ['-c', script, String(f.port), f.address, f.password]);
    expect(stdout.split('\n').slice(0, 3)).toEqual(['5 1 4 3 2', '1 2 4 3 5', '(3 2)(1)((4)(5)(6))']);
  });
});
