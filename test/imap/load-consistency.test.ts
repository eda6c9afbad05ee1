/**
 * Ten sessions on one mailbox at once — STORE of new keywords, APPEND,
 * COPY, EXPUNGE, FETCH by sequence number and by UID, over both FETCH
 * paths — while an eleventh (CONDSTORE on) sits in IDLE taking pushes,
 * with every byte each session receives passed through the strict response
 * checker (checker.ts). The run must log no violation: every keyword in
 * FETCH FLAGS announced in FLAGS first (RFC 9051 §7.3.5), every EXISTS and
 * EXPUNGE consistent with that session's own view (RFC 9051 §7.4.1, §5.2),
 * every message number in range (§7.5.2). At the end each session, caught
 * up by a NOOP, holds exactly the mailbox's UIDs, and — all ten being
 * IMAP4rev1 sessions — each message is \Recent in exactly one of them
 * (RFC 3501 §2.3.2), however the claims raced.
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

const SESSIONS = 10;
const ROUNDS = 40;

async function run(c: Checked, who: number, random: () => number): Promise<void> {
  const pick = () => 1 + Math.floor(random() * c.checker.count);
  for (let i = 0; i < ROUNDS; i++) {
    const tag = `s${who}r${i}`;
    const r = random();
    const n = c.checker.count;
    let reply: string;
    if (n === 0 || r < 0.2) {
      const m = `Subject: s${who} r${i}\r\n\r\nload\r\n`;
      reply = await c.cmd(tag, `APPEND INBOX ($New${who}x${i} \\Seen) {${m.length}+}\r\n${m}`);
    } else if (r < 0.4) reply = await c.cmd(tag, `STORE ${pick()} +FLAGS ($Kw${who}x${i})`);
    else if (r < 0.5) {
      const uid = c.checker.view[pick() - 1];
      reply = await c.cmd(tag, uid ? `UID STORE ${uid} +FLAGS.SILENT ($Uid${who}x${i})` : 'NOOP');
    } else if (r < 0.62) {
      await c.cmd(`${tag}d`, `STORE ${pick()} +FLAGS.SILENT (\\Deleted)`);
      reply = await c.cmd(tag, 'EXPUNGE');
    } else if (r < 0.67) reply = await c.cmd(tag, `COPY ${pick()} INBOX`);
    else if (r < 0.77) reply = await c.cmd(tag, 'FETCH 1:* (FLAGS)');
    else if (r < 0.87) reply = await c.cmd(tag, 'FETCH 1:* (UID FLAGS RFC822.SIZE)');
    else if (r < 0.95) reply = await c.cmd(tag, `UID FETCH ${Math.max(1, c.checker.view[pick() - 1])}:* (FLAGS)`);
    else reply = await c.cmd(tag, 'NOOP');
    expect(reply).toMatch(new RegExp(`${tag} OK`));
  }
}

describe('10 sessions on one mailbox (RFC 9051 §7.3.5, §7.4.1, §5.2)', () => {
  it('gives every session a consistent view with no protocol violation', async () => {
    const seed = await Raw.connect(f.port);
    await login(seed, f);
    for (let i = 0; i < 20; i++) {
      const m = `Subject: seed ${i}\r\n\r\nseed\r\n`;
      await seed.cmd(`a${i}`, `APPEND INBOX ($Seed${i % 3}) {${m.length}+}\r\n${m}`);
    }
    seed.close();
    const sessions: Checked[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const raw = await Raw.connect(f.port);
      await login(raw, f);
      const c = new Checked(raw);
      await c.cmd('sel', 'SELECT INBOX');
      sessions.push(c);
    }
    // An eleventh session idles through the load: everything pushed to it must hold up as well.
    const idler = new Checked(await Raw.connect(f.port));
    await login(idler.raw, f);
    await idler.cmd('en', 'ENABLE CONDSTORE');
    await idler.cmd('sel', 'SELECT INBOX');
    idler.raw.write('i IDLE\r\n');
    await idler.raw.until((b) => b.includes('+ idling\r\n'));
    const feed = () => idler.checker.feed(idler.raw.take());
    idler.raw.socket.on('data', feed);
    await Promise.all(sessions.map((c, i) => run(c, i, rng(1000 + i))));
    idler.raw.socket.off('data', feed);
    idler.raw.write('DONE\r\n');
    idler.checker.feed(await idler.raw.reply('i'));
    sessions.push(idler);
    // Caught up, every session's view is the mailbox: the same UIDs, in order, as a fresh session sees.
    const fresh = new Checked(await Raw.connect(f.port));
    await login(fresh.raw, f);
    await fresh.cmd('sel', 'SELECT INBOX');
    await fresh.cmd('f', 'FETCH 1:* (UID FLAGS)');
    const recentIn = new Map<number, number>();
    for (const c of sessions) {
      await c.cmd('n', 'NOOP');
      const r = await c.cmd('f', 'FETCH 1:* (UID FLAGS)');
      expect(c.checker.view).toEqual(fresh.checker.view);
      for (const m of r.matchAll(/UID (\d+)(?: MODSEQ \(\d+\))? FLAGS \(([^)]*)\)/g)) if (m[2].split(' ').includes('\\Recent')) recentIn.set(Number(m[1]), (recentIn.get(Number(m[1])) ?? 0) + 1);
    }
    expect(fresh.checker.view.filter((u) => recentIn.get(u) !== 1).map((u) => `${u}:${recentIn.get(u)}`)).toEqual([]);
    const violations = [...sessions, fresh].flatMap((c, i) => c.violations.map((v) => `session ${i}: ${v}`));
    expect(violations).toEqual([]);
    expect(fresh.checker.count).toBeGreaterThan(0);
    for (const c of [...sessions, fresh]) c.raw.close();
  });
});
