import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleMessage } from '../helpers/store.js';
import { flow, Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f.close());

describe('smoke', () => {
  it('raw login, select, append, fetch', async () => {
    const raw = await Raw.connect(f.port);
    await login(raw, f);
    const a = await raw.cmd('A1', 'SELECT INBOX');
    expect(a).toContain('A1 OK [READ-WRITE]');
    const msg = sampleMessage({ subject: 'Smoke' });
    raw.write(`A2 APPEND INBOX (\\Seen) {${msg.length}+}\r\n`);
    raw.write(msg);
    raw.write('\r\n');
    const r2 = await raw.reply('A2');
    expect(r2).toMatch(/A2 OK \[APPENDUID \d+ 1\]/);
    const r3 = await raw.cmd('A3', 'FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    expect(r2).toContain('* 1 EXISTS');
    expect(r3).toContain('Subject: Smoke');
    raw.close();
  });
  it('imapflow', async () => {
    const c = await flow(f);
    const lock = await c.getMailboxLock('INBOX');
    const msgs = [];
    for await (const m of c.fetch('1:*', { envelope: true, source: true, flags: true })) msgs.push(m);
    expect(msgs[0].envelope?.subject).toBe('Smoke');
    lock.release();
    await c.logout();
  });
});
