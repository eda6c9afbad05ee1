/**
 * SEARCH programs made only of flag, keyword, sequence-set, UID-set, MODSEQ
 * and RECENT/NEW/OLD keys take the flag-index path (search-flags.ts); any
 * other key sends the whole program down the row path. The two must agree.
 * Each random program is asked twice: as it is, and ANDed with LARGER 0,
 * which every message matches (RFC 9051 §6.4.4: "Messages with an
 * RFC822.SIZE larger than the specified number of octets") but which only
 * the row path can answer. Mailboxes are random too: system flags, keywords
 * in mixed case, \Deleted messages, and — for the searching session — a view
 * that lags behind another session's EXPUNGE and APPEND (no EXPUNGE may be
 * sent during SEARCH, RFC 9051 §7.4.1, so the view still shows messages the
 * store no longer holds: neither path may return them, NOT or not).
 * RECENT, NEW and OLD follow RFC 3501 §6.4.4 for an IMAP4rev1 session; an
 * IMAP4rev2 session holds no \Recent message (RFC 9051 Appendix E). Every
 * byte the searching sessions receive passes through the strict checker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../helpers/rng.js';
import { Checked } from './checker.js';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f.close());

const SYSTEM = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];
const KEYWORDS = ['$Work', 'work', 'Later', '$Junk', '$MDNSent'];
const FLAG_KEYS = ['SEEN', 'UNSEEN', 'ANSWERED', 'UNANSWERED', 'FLAGGED', 'UNFLAGGED', 'DELETED', 'UNDELETED', 'DRAFT', 'UNDRAFT', 'ALL'];

/** A random set of flags for APPEND or STORE. */
function flags(random: () => number): string {
  const out = SYSTEM.filter(() => random() < 0.35);
  for (const k of KEYWORDS) if (random() < 0.2 && !out.some((o) => o.toLowerCase() === k.toLowerCase())) out.push(k);
  return `(${out.join(' ')})`;
}

/** A random sequence set over numbers up to about `max` (some beyond it, some with `*`). */
function seqSet(random: () => number, max: number): string {
  const n = () => 1 + Math.floor(random() * (max + 3));
  const parts: string[] = [];
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) {
    const r = random();
    parts.push(r < 0.15 ? '*' : r < 0.3 ? `${n()}:*` : r < 0.65 ? `${n()}:${n()}` : String(n()));
  }
  return parts.join(',');
}

interface Shape {
  count: number;
  maxUid: number;
  maxModseq: number;
  saved: boolean;
  recent: boolean;
}

/** A random SEARCH program of keys the flag index answers. */
function program(random: () => number, s: Shape, depth = 0): string {
  const r = random();
  if (depth < 3 && r < 0.12) return `NOT ${program(random, s, depth + 1)}`;
  if (depth < 3 && r < 0.24) return `OR ${program(random, s, depth + 1)} ${program(random, s, depth + 1)}`;
  if (depth < 3 && r < 0.32) return `(${program(random, s, depth + 1)} ${program(random, s, depth + 1)})`;
  if (r < 0.55) return FLAG_KEYS[Math.floor(random() * FLAG_KEYS.length)];
  if (r < 0.68) {
    // Keyword case differs from the stored spelling now and then: the match ignores case.
    const k = KEYWORDS[Math.floor(random() * KEYWORDS.length)];
    const kw = random() < 0.3 ? k.toUpperCase() : random() < 0.1 ? '$Absent' : k;
    return `${random() < 0.5 ? 'KEYWORD' : 'UNKEYWORD'} ${kw}`;
  }
  if (r < 0.75) return seqSet(random, s.count);
  if (r < 0.82) return `UID ${seqSet(random, s.maxUid)}`;
  if (r < 0.88) return `MODSEQ ${1 + Math.floor(random() * (s.maxModseq + 2))}`;
  if (r < 0.92 && s.saved) return random() < 0.5 ? '$' : 'UID $';
  if (s.recent) return ['RECENT', 'NEW', 'OLD'][Math.floor(random() * 3)];
  return 'ALL';
}

/** The untagged SEARCH/ESEARCH lines of a reply, with the command's tag taken out of ESEARCH. */
function results(reply: string): string[] {
  return reply
    .split('\r\n')
    .filter((l) => /^\* (SEARCH|ESEARCH)\b/.test(l))
    .map((l) => l.replace(/ \(TAG "[^"]*"\)/, ''));
}

/** Fills INBOX with random messages, then makes `lagging`'s view stale: another session stores, expunges and appends. */
async function buildMailbox(random: () => number, lagging: Checked[]): Promise<void> {
  const w = await Raw.connect(f.port);
  await login(w, f);
  for (let i = 0; i < 30; i++) {
    const m = `Subject: m${i}\r\n\r\n${'body '.repeat(1 + Math.floor(random() * 20))}\r\n`;
    expect(await w.cmd(`a${i}`, `APPEND INBOX ${flags(random)} {${m.length}+}\r\n${m}`)).toMatch(/OK/);
  }
  for (const c of lagging) expect(await c.cmd('s', 'SELECT INBOX (CONDSTORE)')).toMatch(/s OK/);
  expect(await w.cmd('s', 'SELECT INBOX')).toMatch(/s OK/);
  for (let i = 0; i < 15; i++) {
    const n = 1 + Math.floor(random() * 30);
    const mode = ['FLAGS', '+FLAGS', '-FLAGS'][Math.floor(random() * 3)];
    expect(await w.cmd(`st${i}`, `UID STORE ${n} ${mode}.SILENT ${flags(random)}`)).toMatch(/OK/);
  }
  // Expunge a few messages the lagging sessions still show, and append some they do not yet show.
  const gone = [3, 7, 8, 19].map((u) => u + Math.floor(random() * 3)).join(',');
  expect(await w.cmd('d', `UID STORE ${gone} +FLAGS.SILENT (\\Deleted)`)).toMatch(/OK/);
  expect(await w.cmd('e', `UID EXPUNGE ${gone}`)).toMatch(/e OK/);
  for (let i = 0; i < 3; i++) {
    const m = `Subject: late${i}\r\n\r\nlate\r\n`;
    expect(await w.cmd(`l${i}`, `APPEND INBOX ${flags(random)} {${m.length}+}\r\n${m}`)).toMatch(/OK/);
  }
  w.close();
}

const STALE_FORMS = ['SEARCH', 'SEARCH RETURN (MIN MAX COUNT ALL)', 'SEARCH RETURN (MAX)'];
// UID SEARCH may announce expunges (RFC 9051 §7.5.1 forbids them during SEARCH, not UID SEARCH): only once the view is current.
const ALL_FORMS = [...STALE_FORMS, 'UID SEARCH', 'UID SEARCH RETURN (MIN COUNT ALL)'];

/** Asks `c` the same program on both paths in each form; returns how many messages matched. */
async function compare(c: Checked, prog: string, tag: string, forms: string[]): Promise<number> {
  let matched = 0;
  for (const [i, cmd] of forms.entries()) {
    const fast = await c.cmd(`${tag}f${i}`, `${cmd} ${prog}`);
    const rows = await c.cmd(`${tag}r${i}`, `${cmd} ${prog} LARGER 0`);
    expect(fast, prog).toMatch(new RegExp(`${tag}f${i} OK`));
    // No EXPUNGE during SEARCH (RFC 9051 §7.4.1): the view stays as stale as it was.
    expect(fast + rows).not.toMatch(/EXPUNGE/);
    const got = results(fast);
    expect(got, `${cmd} ${prog}`).toEqual(results(rows));
    expect(got).toHaveLength(1);
    if (cmd.includes('COUNT')) matched = Number(/ COUNT (\d+)/.exec(got[0])?.[1]);
  }
  return matched;
}

async function session(rev2: boolean): Promise<Checked> {
  const raw = await Raw.connect(f.port);
  await login(raw, f);
  const c = new Checked(raw, { rev2 });
  if (rev2) expect(await c.cmd('en', 'ENABLE IMAP4rev2')).toMatch(/en OK/);
  return c;
}

describe('SEARCH from the flag index (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 7162 §3.1.5)', () => {
  it('answers random flag, set, MODSEQ and RECENT programs exactly as the row path does, over a stale view', async () => {
    const random = rng(20_001);
    const rev1 = await session(false);
    const rev2 = await session(true);
    await buildMailbox(random, [rev1, rev2]);
    for (const c of [rev1, rev2]) {
      // The first command after the changes brings the appended messages into the view (EXISTS), never the expunges.
      expect(await c.cmd('w', 'SEARCH ALL')).toMatch(/\* 33 EXISTS/);
      const shape: Shape = { count: c.checker.count, maxUid: 40, maxModseq: 80, saved: false, recent: !c.checker.rev2 };
      expect(shape.count).toBe(33);
      let some = 0;
      let none = 0;
      for (let i = 0; i < 70; i++) {
        if (i === 20) {
          expect(await c.cmd('sv', `SEARCH RETURN (SAVE) ${program(random, shape)}`)).toMatch(/sv OK/);
          shape.saved = true;
        }
        if (i === 40) {
          // Past here the view is current: the expunges go out with this UID SEARCH.
          expect(await c.cmd('cur', 'UID SEARCH ALL')).toMatch(/EXPUNGE/);
          shape.count = c.checker.count;
        }
        const n = await compare(c, program(random, shape), `p${i}`, i < 40 ? STALE_FORMS : ALL_FORMS);
        if (n) some++;
        else none++;
      }
      // The programs must have been telling: most match something, some match nothing.
      expect(some).toBeGreaterThan(20);
      expect(none).toBeGreaterThan(0);
      expect(c.violations).toEqual([]);
    }
    rev1.raw.close();
    rev2.raw.close();
  });

  it('skips messages expunged but not yet announced, even under NOT (RFC 9051 §7.4.1)', async () => {
    const c = await session(false);
    const w = await session(false);
    const m = 'Subject: x\r\n\r\nx\r\n';
    await w.cmd('c', 'CREATE Lag');
    for (let i = 0; i < 4; i++) await w.cmd(`a${i}`, `APPEND Lag (${i % 2 ? '\\Seen' : ''}) {${m.length}+}\r\n${m}`);
    expect(await c.cmd('s', 'SELECT Lag')).toMatch(/\* 4 EXISTS/);
    await w.cmd('s', 'SELECT Lag');
    await w.cmd('d', 'STORE 1,2 +FLAGS.SILENT (\\Deleted)');
    await w.cmd('e', 'EXPUNGE');
    // The view still holds UIDs 1-4; the store holds 3 and 4, 4 seen.
    expect(results(await c.cmd('u', 'SEARCH UNSEEN'))).toEqual(['* SEARCH 3']);
    expect(results(await c.cmd('n', 'SEARCH NOT SEEN'))).toEqual(['* SEARCH 3']);
    expect(results(await c.cmd('a', 'SEARCH ALL'))).toEqual(['* SEARCH 3 4']);
    // RFC 3501 §6.4.4: OLD is NOT RECENT; this session was first to select Lag, so none is old.
    expect(results(await c.cmd('o', 'SEARCH OLD'))).toEqual(['* SEARCH']);
    expect(results(await c.cmd('r', 'SEARCH NEW'))).toEqual(['* SEARCH 3']);
    // UID SEARCH may tell of the expunges (RFC 9051 §7.5.1), after a result that leaves them out.
    const uidSearch = await c.cmd('x', 'UID SEARCH NOT SEEN');
    expect(results(uidSearch)).toEqual(['* SEARCH 3']);
    expect(uidSearch.match(/^\* [12] EXPUNGE$/gm)).toHaveLength(2);
    expect(results(await c.cmd('a2', 'SEARCH ALL'))).toEqual(['* SEARCH 1 2']);
    expect(c.violations).toEqual([]);
    c.raw.close();
    w.raw.close();
  });
});
