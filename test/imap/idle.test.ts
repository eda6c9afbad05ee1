/**
 * Several sessions on one mailbox: one IDLEs while another APPENDs, STOREs
 * and EXPUNGEs and the MX takes a message over SMTP; the idle session sees
 * each change at once. A non-idle session is told at the moments the RFC
 * allows: no EXPUNGE during FETCH, STORE or SEARCH; everything on NOOP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtp } from '../../node/smtp/index.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { sampleMessage } from '../helpers/store.js';
import { baseDeps, client } from '../smtp/harness.js';
import { flow, Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
let dns: TestDns;
let mx: { port: number; close(): Promise<void> };
beforeAll(async () => {
  f = await startFixture();
  dns = await startTestDns();
  mx = await startSmtp(baseDeps(f.t.store, dns), { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' });
});
afterAll(async () => {
  await mx.close();
  await dns.close();
  await f.close();
});

describe('multi-session', () => {
  it('tells an IDLE session about appends, flag changes, expunges and deliveries at once', async () => {
    const idler = await Raw.connect(f.port);
    await login(idler, f);
    await idler.cmd('s', 'SELECT INBOX');
    idler.write('i IDLE\r\n');
    await idler.until((b) => b.includes('+ idling\r\n'));
    idler.take();

    const other = await flow(f);
    await other.append('INBOX', sampleMessage({ subject: 'first' }));
    await idler.until((b) => b.includes('* 1 EXISTS\r\n'));

    const lock = await other.getMailboxLock('INBOX');
    await other.messageFlagsAdd('1', ['\\Seen']);
    await idler.until((b) => b.includes('* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n'));

    // Mail through the real MX: SMTP in, the store, the IDLE session told.
    await client(mx.port).sendMail({ from: 'carol@sender.test', to: f.address, subject: 'delivered', text: 'over SMTP' });
    await idler.until((b) => b.includes('* 2 EXISTS\r\n'));

    await other.messageDelete('1');
    await idler.until((b) => b.includes('* 1 EXPUNGE\r\n'));
    lock.release();
    await other.logout();

    idler.write('DONE\r\n');
    const rest = await idler.reply('i');
    expect(rest.endsWith('i OK IDLE terminated\r\n')).toBe(true);
    const all = idler.take() + rest;
    expect(all).not.toContain('BAD');
    // The view now has the delivered message as 1.
    expect(await idler.cmd('f', 'FETCH 1:* (UID)')).toBe('* 1 FETCH (UID 2)\r\nf OK FETCH completed\r\n');
    idler.close();
  });

  it('holds EXPUNGE back during FETCH, STORE and SEARCH and delivers it on NOOP', async () => {
    const a = await Raw.connect(f.port);
    await login(a, f);
    const sel = await a.cmd('s', 'SELECT INBOX');
    expect(sel).toContain('* 1 EXISTS');
    const b = await Raw.connect(f.port);
    await login(b, f);
    await b.cmd('s', 'SELECT INBOX');
    b.write(`ap APPEND INBOX {${sampleMessage().length}+}\r\n`);
    b.write(sampleMessage());
    b.write('\r\n');
    await b.reply('ap');
    await b.cmd('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('e', 'EXPUNGE');

    // A FETCH may report the new message but must not shift sequence numbers.
    const r1 = await a.cmd('f', 'FETCH 1 (FLAGS)');
    expect(r1).not.toContain('EXPUNGE');
    expect(r1).toContain('* 2 EXISTS');
    const r2 = await a.cmd('q', 'SEARCH ALL');
    expect(r2).not.toContain('EXPUNGE');
    const r3 = await a.cmd('n', 'NOOP');
    expect(r3).toBe('* 1 EXPUNGE\r\nn OK NOOP completed\r\n');
    expect(await a.cmd('f2', 'FETCH 1:* (UID)')).toMatch(/^\* 1 FETCH \(UID \d+\)\r\nf2 OK/);
    a.close();
    b.close();
  });
});
