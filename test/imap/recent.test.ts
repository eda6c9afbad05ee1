/**
 * \Recent for IMAP4rev1 clients (RFC 3501 §2.3.2): a message is recent in
 * exactly one session — the first to see the mailbox after it arrived —
 * told by RECENT at SELECT (§6.3.1, §7.3.2) and as mail arrives, shown in
 * FETCH FLAGS, counted by STATUS RECENT (§6.3.10) and matched by SEARCH
 * RECENT, NEW and OLD (§6.4.4). EXAMINE leaves it in place (§6.3.2); a
 * copy or an append is recent in its target (§6.4.7, §6.3.11). A session
 * that enabled IMAP4rev2 never sees it (RFC 9051 removed it). Every reply
 * passes through the strict response checker.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedSession, type Checked } from './checker.js';
import { startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
const open: Checked[] = [];
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  for (const c of open) {
    expect(c.violations).toEqual([]);
    c.raw.close();
  }
  await f.close();
});

async function session(rev2 = false): Promise<Checked> {
  const c = await checkedSession(f);
  open.push(c);
  if (rev2) expect(await c.cmd('en', 'ENABLE IMAP4rev2')).toMatch(/ENABLED IMAP4rev2/);
  return c;
}

async function append(c: Checked, box: string, subject: string): Promise<void> {
  const m = `Subject: ${subject}\r\n\r\nbody\r\n`;
  expect(await c.cmd('ap', `APPEND ${box} {${m.length}+}\r\n${m}`)).toMatch(/ap OK/);
}

const recentLine = (r: string) => /^\* (\d+) RECENT\r$/m.exec(r)?.[1];
const searchOf = (r: string) => /^\* SEARCH([\d ]*)\r$/m.exec(r)![1].trim();
/** Sequence numbers whose FETCH FLAGS carry \Recent. */
const recentIn = (r: string) => [...r.matchAll(/^\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)/gm)].filter((m) => m[2].split(' ').includes('\\Recent')).map((m) => Number(m[1]));

describe('\\Recent for IMAP4rev1 sessions (RFC 3501 §2.3.2)', () => {
  it('SELECT reports and claims the recent messages; a later session sees none of them as recent', async () => {
    const a = await session();
    await a.cmd('c', 'CREATE r-select');
    await append(a, 'r-select', 'one');
    await append(a, 'r-select', 'two');
    const sel = await a.cmd('s', 'SELECT r-select');
    expect(sel).toMatch(/^\* 2 EXISTS\r\n\* 2 RECENT\r\n/);
    // Both FETCH paths: the flags-only one and the general one.
    expect(recentIn(await a.cmd('f1', 'FETCH 1:* (FLAGS)'))).toEqual([1, 2]);
    expect(recentIn(await a.cmd('f2', 'FETCH 1:* (FLAGS RFC822.SIZE)'))).toEqual([1, 2]);
    // §6.4.4: RECENT, NEW (recent and unseen), OLD (not recent).
    expect(searchOf(await a.cmd('q1', 'SEARCH RECENT'))).toBe('1 2');
    await a.cmd('st', 'STORE 1 +FLAGS (\\Seen)');
    expect(searchOf(await a.cmd('q2', 'SEARCH NEW'))).toBe('2');
    expect(searchOf(await a.cmd('q3', 'SEARCH OLD'))).toBe('');
    // \Recent stays while the session holds the mailbox: STORE's own FETCH shows it too.
    expect(await a.cmd('st2', 'STORE 2 +FLAGS (\\Flagged)')).toMatch(/^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Recent\)\)/m);

    const b = await session();
    expect(recentLine(await b.cmd('s', 'SELECT r-select'))).toBe('0');
    expect(recentIn(await b.cmd('f', 'FETCH 1:* (FLAGS)'))).toEqual([]);
    expect(searchOf(await b.cmd('q', 'SEARCH OLD'))).toBe('1 2');
    expect(searchOf(await b.cmd('q2', 'SEARCH RECENT'))).toBe('');
  });

  it('new mail is recent in exactly one of the sessions that have the mailbox selected, told with RECENT after EXISTS', async () => {
    const a = await session();
    const b = await session();
    const o = await session();
    await a.cmd('c', 'CREATE r-new');
    await a.cmd('s', 'SELECT r-new');
    await b.cmd('s', 'SELECT r-new');
    await append(o, 'r-new', 'arrives');
    const ra = await a.cmd('n', 'NOOP');
    const rb = await b.cmd('n', 'NOOP');
    for (const r of [ra, rb]) expect(r).toMatch(/^\* 1 EXISTS\r\n\* [01] RECENT\r\n/);
    expect([recentLine(ra), recentLine(rb)].sort()).toEqual(['0', '1']);
    const fa = recentIn(await a.cmd('f', 'FETCH 1 (FLAGS)'));
    const fb = recentIn(await b.cmd('f', 'FETCH 1 (FLAGS)'));
    expect([...fa, ...fb]).toEqual([1]);
    // This session's own APPEND to the selected mailbox is recent for it (RFC 3501 §6.3.11).
    const own = await a.cmd('ap', 'APPEND r-new {19+}\r\nSubject: own\r\n\r\nx\r\n');
    expect(own).toMatch(/^\* 2 EXISTS\r\n\* \d RECENT\r\n/);
    expect(recentIn(await a.cmd('f2', 'FETCH 2 (FLAGS)'))).toEqual([2]);
  });

  it('EXAMINE shows recent messages without taking \\Recent away (RFC 3501 §6.3.2)', async () => {
    const a = await session();
    await a.cmd('c', 'CREATE r-examine');
    await append(a, 'r-examine', 'one');
    const ex = await a.cmd('e', 'EXAMINE r-examine');
    expect(recentLine(ex)).toBe('1');
    expect(recentIn(await a.cmd('f', 'FETCH 1 (FLAGS)'))).toEqual([1]);
    const b = await session();
    expect(recentLine(await b.cmd('s', 'SELECT r-examine'))).toBe('1');
    const c = await session();
    expect(recentLine(await c.cmd('s', 'SELECT r-examine'))).toBe('0');
  });

  it('STATUS RECENT counts messages no session has seen; copies and appends are recent in the target', async () => {
    const a = await session();
    await a.cmd('c1', 'CREATE r-status');
    await a.cmd('c2', 'CREATE r-copy');
    await append(a, 'r-status', 'one');
    await append(a, 'r-status', 'two');
    expect(await a.cmd('st', 'STATUS r-status (MESSAGES RECENT)')).toMatch(/^\* STATUS r-status \(MESSAGES 2 RECENT 2\)/m);
    await a.cmd('s', 'SELECT r-status');
    // The selecting session holds both as recent; for every other session none is.
    expect(await a.cmd('st', 'STATUS r-status (RECENT)')).toMatch(/RECENT 2\)/);
    const b = await session();
    expect(await b.cmd('st', 'STATUS r-status (RECENT)')).toMatch(/RECENT 0\)/);
    await a.cmd('cp', 'COPY 1:2 r-copy');
    expect(await b.cmd('st2', 'STATUS r-copy (RECENT)')).toMatch(/RECENT 2\)/);
    const sel = await b.cmd('s', 'SELECT r-copy');
    expect(recentLine(sel)).toBe('2');
    expect(searchOf(await b.cmd('q', 'SEARCH RECENT'))).toBe('1 2');
  });
});

/** Python's imaplib, an IMAP4rev1 client written by no one here: SELECT's RECENT, SEARCH RECENT/NEW/OLD and FETCH FLAGS as it parses them. */
const PY = `
import imaplib, json, sys
port, user, pw, box = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = []
for _ in range(2):
    m = imaplib.IMAP4('127.0.0.1', port)
    m.login(user, pw)
    typ, exists = m.select(box)
    recent = m.response('RECENT')[1]
    s = {k: m.search(None, k)[1][0].decode() for k in ('RECENT', 'NEW', 'OLD')}
    flags = [x.decode() for x in m.fetch('1:*', '(FLAGS)')[1]]
    out.append({'exists': exists[0].decode(), 'recent': [r.decode() for r in recent if r], 'search': s, 'flags': flags})
    m.logout()
print(json.dumps(out))
`;

describe('\\Recent as Python imaplib sees it', () => {
  it('the first imaplib session gets RECENT 2 and \\Recent on both messages, the second none', async () => {
    const a = await session();
    await a.cmd('c', 'CREATE r-python');
    await append(a, 'r-python', 'one');
    await append(a, 'r-python', 'two');
    const { stdout } = await promisify(execFile)('python3', ['-c', PY, String(f.port), f.address, f.password, 'r-python'], { timeout: 20_000 });
    const [first, second] = JSON.parse(stdout);
    expect(first.exists).toBe('2');
    expect(first.recent).toEqual(['2']);
    expect(first.search).toEqual({ RECENT: '1 2', NEW: '1 2', OLD: '' });
    expect(first.flags.every((l: string) => l.includes('\\Recent'))).toBe(true);
    expect(second.recent).toEqual(['0']);
    expect(second.search).toEqual({ RECENT: '', NEW: '', OLD: '1 2' });
    expect(second.flags.some((l: string) => l.includes('\\Recent'))).toBe(false);
  });
});

describe('new mail in a mailbox deleted meanwhile', () => {
  it('is told without claiming \\Recent or announcing keywords of a folder that is gone', async () => {
    const a = await session();
    const b = await session();
    await a.cmd('c', 'CREATE r-gone');
    await a.cmd('s', 'SELECT r-gone');
    const m = 'Subject: late\r\n\r\nx\r\n';
    expect(await b.cmd('ap', `APPEND r-gone ($Late) {${m.length}+}\r\n${m}`)).toMatch(/ap OK/);
    expect(await b.cmd('d', 'DELETE r-gone')).toMatch(/d OK/);
    // The change arrives after the folder went: the session carries on.
    expect(await a.cmd('n', 'NOOP')).toMatch(/^\* 1 EXISTS\r\n\* 0 RECENT\r\nn OK/);
  });
});

describe('IMAP4rev2 sessions never see \\Recent (RFC 9051 Appendix E)', () => {
  it('no RECENT response, no \\Recent flag, no match for RECENT, and no claim on what rev1 sessions will see', async () => {
    const a = await session(true);
    await a.cmd('c', 'CREATE r-rev2');
    await append(a, 'r-rev2', 'one');
    const sel = await a.cmd('s', 'SELECT r-rev2');
    expect(sel).not.toMatch(/RECENT/);
    expect(recentIn(await a.cmd('f', 'FETCH 1:* (FLAGS)'))).toEqual([]);
    expect(await a.cmd('q', 'SEARCH RETURN (COUNT) RECENT')).toMatch(/^\* ESEARCH \(TAG "q"\) COUNT 0\r\n/);
    await append(a, 'r-rev2', 'two');
    expect(await a.cmd('n', 'NOOP')).not.toMatch(/RECENT/);
    // The rev2 session claimed nothing: the first rev1 session still sees both as recent.
    const b = await session();
    expect(recentLine(await b.cmd('s', 'SELECT r-rev2'))).toBe('2');
  });
});
