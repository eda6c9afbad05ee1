/**
 * Keywords are announced before they are used: RFC 9051 §7.3.5 (RFC 3501
 * §7.2.6) says the untagged FLAGS response lists the flags the mailbox uses,
 * and a client that meets a keyword in FETCH FLAGS which no FLAGS named has
 * been lied to. Each case drives the real server and passes every byte
 * through the strict response checker (checker.ts).
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

function msg(subject: string): string {
  return `Subject: ${subject}\r\n\r\nbody\r\n`;
}

async function append(c: Checked, tag: string, box: string, flags: string, subject: string): Promise<string> {
  const m = msg(subject);
  const r = await c.cmd(tag, `APPEND ${box} ${flags} {${m.length}+}\r\n${m}`);
  expect(r).toMatch(new RegExp(`${tag} OK`));
  return r;
}

/** The keywords of the last untagged FLAGS in `reply`. */
function lastFlags(reply: string): string[] {
  const all = [...reply.matchAll(/^\* FLAGS \(([^)]*)\)/gm)];
  return all.length ? all[all.length - 1][1].split(' ').filter((x) => !x.startsWith('\\')) : [];
}

describe('keywords in FLAGS before use (RFC 9051 §7.3.5, RFC 3501 §7.2.6)', () => {
  it('SELECT names the keywords already in use in FLAGS and in PERMANENTFLAGS', async () => {
    const c = await session();
    await c.cmd('c', 'CREATE kw-select');
    await append(c, 'a1', 'kw-select', '(\\Seen $Label1)', 'one');
    await append(c, 'a2', 'kw-select', '($keyword1 Work)', 'two');
    const r = await c.cmd('s', 'SELECT kw-select');
    expect(lastFlags(r).sort()).toEqual(['$Label1', '$keyword1', 'Work']);
    expect(r).toMatch(/^\* OK \[PERMANENTFLAGS \([^)]*\$Label1[^)]*\\\*\)\]/m);
    await c.cmd('f', 'FETCH 1:* (FLAGS)');
    expect(c.violations).toEqual([]);
    c.raw.close();
  });

  it("this session's STORE of a new keyword sends FLAGS and PERMANENTFLAGS before the FETCH that shows it, .SILENT too", async () => {
    const c = await session();
    await c.cmd('c', 'CREATE kw-store');
    await append(c, 'a1', 'kw-store', '()', 'one');
    await c.cmd('s', 'SELECT kw-store');
    const r = await c.cmd('st', 'STORE 1 +FLAGS ($Fresh)');
    expect(r.indexOf('* FLAGS (')).toBeGreaterThanOrEqual(0);
    expect(r.indexOf('* FLAGS (')).toBeLessThan(r.indexOf('FETCH'));
    expect(lastFlags(r)).toEqual(['$Fresh']);
    expect(r).toMatch(/^\* OK \[PERMANENTFLAGS \(.*\$Fresh \\\*\)\]/m);
    const silent = await c.cmd('s2', 'STORE 1 +FLAGS.SILENT ($Quiet)');
    expect(lastFlags(silent)).toContain('$Quiet');
    await c.cmd('f', 'FETCH 1 (FLAGS)');
    expect(c.violations).toEqual([]);
    c.raw.close();
  });

  it('APPEND, COPY and MOVE into the selected mailbox announce their keywords before the new messages are fetched', async () => {
    const c = await session();
    await c.cmd('c1', 'CREATE kw-target');
    await c.cmd('c2', 'CREATE kw-source');
    await append(c, 'a0', 'kw-source', '($FromCopy)', 'copied');
    await append(c, 'a1', 'kw-source', '($FromMove)', 'moved');
    await c.cmd('s', 'SELECT kw-target');
    const ap = await append(c, 'a2', 'kw-target', '($Appended)', 'appended');
    expect(ap.indexOf('* FLAGS')).toBeGreaterThanOrEqual(0);
    expect(lastFlags(ap)).toContain('$Appended');
    // From another folder: COPY and MOVE by a second session land in the one this session has selected.
    const other = await session();
    await other.cmd('s', 'SELECT kw-source');
    await other.cmd('cp', 'COPY 1 kw-target');
    await other.cmd('mv', 'MOVE 2 kw-target');
    const seen = await c.cmd('n', 'NOOP');
    expect(seen).toMatch(/\* 3 EXISTS/);
    expect(lastFlags(seen).sort()).toEqual(['$Appended', '$FromCopy', '$FromMove']);
    await c.cmd('f', 'FETCH 1:* (FLAGS)');
    await c.cmd('f2', 'FETCH 1:* (FLAGS RFC822.SIZE)');
    expect(c.violations).toEqual([]);
    expect(other.violations).toEqual([]);
    c.raw.close();
    other.raw.close();
  });

  it("another session's new keyword reaches this one as FLAGS before its FETCH, in a command and under IDLE", async () => {
    const a = await session();
    const b = await session();
    await a.cmd('c', 'CREATE kw-other');
    await append(a, 'a1', 'kw-other', '()', 'one');
    await a.cmd('s', 'SELECT kw-other');
    await b.cmd('s', 'SELECT kw-other');
    await b.cmd('st', 'STORE 1 +FLAGS ($Label1)');
    // FETCH may not expunge but may tell of flag changes: FLAGS first.
    const r = await a.cmd('f', 'FETCH 1 (FLAGS)');
    expect(r.indexOf('* FLAGS (')).toBeLessThan(r.indexOf('FETCH (UID'));
    // Under IDLE the change is pushed as it happens: FLAGS before the FETCH.
    a.raw.write('i IDLE\r\n');
    await a.raw.until((buf) => buf.includes('+ idling'));
    a.checker.feed(a.raw.take());
    await b.cmd('st2', 'STORE 1 +FLAGS ($Label2)');
    await a.raw.until((buf) => buf.includes('FETCH'));
    const pushed = a.raw.take();
    a.checker.feed(pushed);
    expect(pushed.indexOf('* FLAGS')).toBeGreaterThanOrEqual(0);
    expect(pushed.indexOf('* FLAGS')).toBeLessThan(pushed.indexOf('FETCH'));
    a.raw.write('DONE\r\n');
    a.checker.feed(await a.raw.reply('i'));
    expect(a.violations).toEqual([]);
    expect(b.violations).toEqual([]);
    a.raw.close();
    b.raw.close();
  });

  it('EXAMINE sends an updated FLAGS with PERMANENTFLAGS () when a keyword appears', async () => {
    const a = await session();
    const b = await session();
    await a.cmd('c', 'CREATE kw-ro');
    await append(a, 'a1', 'kw-ro', '()', 'one');
    await a.cmd('e', 'EXAMINE kw-ro');
    await b.cmd('s', 'SELECT kw-ro');
    await b.cmd('st', 'STORE 1 +FLAGS ($Seen2)');
    const r = await a.cmd('f', 'FETCH 1 (FLAGS)');
    expect(lastFlags(r)).toEqual(['$Seen2']);
    expect(r).toMatch(/^\* OK \[PERMANENTFLAGS \(\)\]/m);
    expect(a.violations).toEqual([]);
    a.raw.close();
    b.raw.close();
  });
});
