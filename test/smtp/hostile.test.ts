/**
 * Hostile input at the MX: malformed and out-of-order commands, over-long
 * lines, oversized messages (declared and not), broken MIME that must still
 * be stored intact, and DNS that is dead or refusing. Each case also checks
 * that the server keeps serving afterwards.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolverFor, type Resolver } from '../../node/smtp/index.js';
import type { Store } from '../../node/store/index.js';
import type { TestDns } from '../helpers/dns-server.js';
import { sampleMessage } from '../helpers/store.js';
import { baseDeps, client, folderRaws, MX_PASSWORD, rawSession, startMx, startMxFixture, type MxFixture } from './harness.js';

const PW = MX_PASSWORD;
let fx: MxFixture;
let store: Store;
let dns: TestDns;
let mx: { port: number; close(): Promise<void> };

beforeAll(async () => {
  fx = await startMxFixture({ limits: { maxMessageBytes: 32 * 1024 } }, (zone) => zone.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] }));
  ({ store, dns, mx } = fx);
});

afterAll(async () => fx?.close());

async function greeted(port = mx.port) {
  const s = await rawSession(port);
  expect(await s.reply()).toMatch(/^220 /);
  return s;
}

describe('malformed commands', () => {
  it('answers garbage, NUL bytes and out-of-order commands with errors and keeps the session usable', async () => {
    const s = await greeted();
    expect(await s.cmd('MAIL FROM:<someone@sender.test>')).toMatch(/^503 /); // before EHLO
    expect(await s.cmd('EHLO client.remote.test')).toMatch(/^250-/);
    expect(await s.cmd('HELLO THERE')).toMatch(/^500 /);
    expect(await s.cmd('\x00\x01\x02 binary')).toMatch(/^500 /);
    expect(await s.cmd('RCPT TO:<alice@example.test>')).toMatch(/^503 /); // before MAIL
    expect(await s.cmd('DATA')).toMatch(/^503 /);
    expect(await s.cmd('MAIL FROM:someone@sender.test')).toMatch(/^501 /); // no angle brackets
    expect(await s.cmd('MAIL FROM:<someone@sender.test> BOGUS=1')).toMatch(/^555 5\.5\.4 /);
    expect(await s.cmd('MAIL FROM:<someone@sender.test>')).toMatch(/^250 /);
    expect(await s.cmd('MAIL FROM:<other@sender.test>')).toMatch(/^503 /); // nested MAIL
    expect(await s.cmd('RCPT TO:<alice@example.test> XFORWARD=1')).toMatch(/^555 5\.5\.4 /);
    expect(await s.cmd('RCPT TO:<alice@example.test> NOTIFY=SOMETIMES')).toMatch(/^501 /);
    expect(await s.cmd('RCPT TO:<>')).toMatch(/^5\d\d /);
    expect(await s.cmd('RCPT TO:<alice@example.test>')).toMatch(/^250 /);
    expect(await s.cmd('DATA')).toMatch(/^354 /);
    s.send(sampleMessage({ from: 'someone@sender.test', body: 'marker-after-garbage' }));
    s.send('.\r\n');
    expect(await s.reply()).toMatch(/^250 /);
    expect(await s.cmd('QUIT')).toMatch(/^221 /);
    s.close();
    expect((await folderRaws(store, 'alice@example.test', PW)).some((m) => m.includes('marker-after-garbage'))).toBe(true);
  });

  it('drops a client after ten unknown commands', async () => {
    const s = await greeted();
    await s.cmd('EHLO client.remote.test');
    for (let i = 0; i < 9; i++) expect(await s.cmd(`XYZZY${i}`)).toMatch(/^500 /);
    expect(await s.cmd('XYZZY9')).toMatch(/^421 /);
    expect(await s.reply()).toBe(''); // closed
  });

  it('refuses an endless command line without buffering it, then serves new clients', async () => {
    const s = await greeted();
    s.send('EHLO ' + 'a'.repeat(64 * 1024));
    expect(await s.reply()).toMatch(/^421 4\.4\.2 .*too long/);
    expect(await s.reply()).toBe(''); // closed
    s.close();
    const next = await greeted();
    expect(await next.cmd('EHLO client.remote.test')).toMatch(/^250/);
    next.close();
  });

  it('answers a pipelined burst in order', async () => {
    const s = await greeted();
    await s.cmd('EHLO client.remote.test');
    s.send('MAIL FROM:<someone@sender.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n');
    expect(await s.reply()).toMatch(/^250 /);
    expect(await s.reply()).toMatch(/^550 5\.1\.1 /);
    expect(await s.reply()).toMatch(/^250 /);
    expect(await s.reply()).toMatch(/^354 /);
    s.send(sampleMessage({ from: 'someone@sender.test', body: 'marker-pipelined' }));
    s.send('.\r\nQUIT\r\n');
    expect(await s.reply()).toMatch(/^250 /);
    expect(await s.reply()).toMatch(/^221 /);
    s.close();
  });
});

describe('slow clients', () => {
  it('closes a connection that trickles DATA past the deadline with 421, storing nothing', async () => {
    const slow = await startMx(baseDeps(store, dns, { limits: { maxDataMs: 300 } }));
    try {
      const s = await greeted(slow.port);
      await s.cmd('EHLO client.remote.test');
      await s.cmd('MAIL FROM:<someone@sender.test>');
      await s.cmd('RCPT TO:<alice@example.test>');
      expect(await s.cmd('DATA')).toMatch(/^354 /);
      s.send('Subject: marker-trickle\r\n\r\nfirst line\r\n'); // and then nothing more
      expect(await s.reply()).toMatch(/^421 4\.4\.2 .*within/);
      expect(await s.reply()).toBe(''); // closed
    } finally {
      await slow.close();
    }
    expect((await folderRaws(store, 'alice@example.test', PW)).some((m) => m.includes('marker-trickle'))).toBe(false);
  });
});

describe('vanishing clients', () => {
  it('shrugs off a client that disconnects mid-DATA and keeps serving', async () => {
    const s = await greeted();
    await s.cmd('EHLO client.remote.test');
    await s.cmd('MAIL FROM:<someone@sender.test>');
    await s.cmd('RCPT TO:<alice@example.test>');
    expect(await s.cmd('DATA')).toMatch(/^354 /);
    s.send('Subject: marker-vanished\r\n\r\nhalf a mess');
    s.close();
    const next = await greeted();
    expect(await next.cmd('NOOP')).toMatch(/^250 /);
    next.close();
    expect((await folderRaws(store, 'alice@example.test', PW)).some((m) => m.includes('marker-vanished'))).toBe(false);
  });
});

describe('forged verdicts', () => {
  it('removes Authentication-Results claiming our name and any X-Haven-Spam, keeping everything else byte for byte', async () => {
    const forged =
      'Authentication-Results: mx.haven.test;\r\n dkim=pass; dmarc=pass header.from=bank.test\r\n' +
      'X-Haven-Spam: no; score=0.0\r\n' +
      'Authentication-Results: other.example; spf=pass\r\n' +
      'x-haven-spam:no\r\n';
    const rest = sampleMessage({ from: 'someone@sender.test', body: 'marker-forged-ar' });
    const raw = Buffer.concat([Buffer.from(forged), rest]);
    await client(mx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['alice@example.test'] }, raw });
    const m = (await folderRaws(store, 'alice@example.test', PW)).find((x) => x.includes('marker-forged-ar'))!;
    expect(m.match(/^Authentication-Results: mx\.haven\.test;/gim)).toHaveLength(1); // ours
    expect(m).not.toContain('header.from=bank.test');
    expect(m.match(/^x-haven-spam:/gim)).toHaveLength(1); // ours
    expect(m).toContain('\r\nAuthentication-Results: other.example; spf=pass\r\n');
    expect(m.endsWith(rest.toString())).toBe(true);
  });
});

describe('oversized messages', () => {
  it('refuses a declared SIZE over the limit at MAIL FROM', async () => {
    const s = await greeted();
    await s.cmd('EHLO client.remote.test');
    expect(await s.cmd(`MAIL FROM:<someone@sender.test> SIZE=${64 * 1024}`)).toMatch(/^552 /);
    expect(await s.cmd('MAIL FROM:<someone@sender.test> SIZE=1000')).toMatch(/^250 /);
    s.close();
  });

  it('refuses one byte over the limit after DATA, and a single endless line, storing nothing', async () => {
    const before = (await folderRaws(store, 'alice@example.test', PW)).length;
    for (const body of [Buffer.alloc(32 * 1024 + 1, 'x'), Buffer.from('Subject: x\r\n\r\n' + 'y'.repeat(200 * 1024) + '\r\n')]) {
      const s = await greeted();
      await s.cmd('EHLO client.remote.test');
      await s.cmd('MAIL FROM:<someone@sender.test>');
      await s.cmd('RCPT TO:<alice@example.test>');
      expect(await s.cmd('DATA')).toMatch(/^354 /);
      s.send(body);
      s.send('\r\n.\r\n');
      expect(await s.reply()).toMatch(/^552 5\.3\.4 /);
      expect(await s.cmd('NOOP')).toMatch(/^250 /);
      s.close();
    }
    expect(await folderRaws(store, 'alice@example.test', PW)).toHaveLength(before);
  });
});

describe('broken MIME', () => {
  // Each is accepted and stored byte for byte: judging structure is the reader's job, losing mail is not an option.
  const broken: [string, string][] = [
    ['unterminated multipart', 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\npart one'],
    ['multipart without boundary', 'Content-Type: multipart/alternative\r\n\r\n--x\r\nhello\r\n--x--'],
    ['invalid base64', 'Content-Transfer-Encoding: base64\r\n\r\n!!!not*base64***\r\n====='],
    ['unknown charset', 'Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nhello'],
    ['header line without colon', 'This is not a header\r\nContent-Type: text/plain\r\n\r\nbody'],
    ['headers only, no body', 'X-Only: headers'],
    ['8-bit header without SMTPUTF8', 'X-Name: M\xfcller \xe9t\xe9\r\n\r\nbody'],
    ['deep nesting', `${Array.from({ length: 60 }, (_, i) => `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`).join('')}Content-Type: text/plain\r\n\r\ndeep`],
    ['encoded-word garbage', 'X-Bad: =?utf-8?B?####?= =?x?Q?=ZZ?=\r\n\r\nbody'],
  ];
  // NUL bytes are the exception: RFC 5321 §2.3.8 and RFC 5322 §2.2 forbid them, and the MX refuses them (test/hostile/smtp-content.test.ts).
  it.each(broken)('stores %s intact', async (name, rest) => {
    const marker = `marker-broken-${name.replace(/\W+/g, '-')}`;
    const raw = Buffer.from(`From: someone@sender.test\r\nTo: alice@example.test\r\nSubject: ${marker}\r\n${rest}\r\n`, 'latin1');
    const info = await client(mx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['alice@example.test'] }, raw });
    expect(info.response).toMatch(/^250 /);
    const lease = await store.authenticate('alice@example.test', PW);
    try {
      const inbox = lease.mailbox.folders.require('INBOX');
      const hit = lease.mailbox.messages.list(inbox.id).find((m) => lease.mailbox.messages.raw(m.blobId).includes(marker));
      expect(hit).toBeDefined();
      const stored = lease.mailbox.messages.raw(hit!.blobId);
      // Our trace headers in front, the client's bytes after them unchanged.
      expect(stored.subarray(stored.length - raw.length).equals(raw)).toBe(true);
      expect(lease.mailbox.messages.parsed(hit!.blobId).envelope.subject).toBe(marker);
    } finally {
      lease.release();
    }
  });
});

describe('dead DNS', () => {
  async function mxWith(resolver: Resolver) {
    return startMx(baseDeps(store, dns, { resolver }));
  }
  const msg = () => sampleMessage({ from: 'someone@sender.test', body: 'marker-dead-dns' });

  it('answers 451 4.4.3 when DNS never answers, within the resolver timeouts, and stores nothing', async () => {
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const dead = await mxWith(resolverFor([`127.0.0.1:${hole.address().port}`], { timeoutMs: 100 }));
    try {
      const started = Date.now();
      await expect(client(dead.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['alice@example.test'] }, raw: msg() })).rejects.toMatchObject({
        responseCode: 451,
        response: expect.stringMatching(/^451 4\.4\.3 .*sender\.test/),
      });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await dead.close();
      hole.close();
    }
    expect((await folderRaws(store, 'alice@example.test', PW)).some((m) => m.includes('marker-dead-dns'))).toBe(false);
  });

  it('answers 451 4.4.3 when the DNS server refuses (port closed)', async () => {
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const port = hole.address().port;
    hole.close();
    const dead = await mxWith(resolverFor([`127.0.0.1:${port}`], { timeoutMs: 100 }));
    try {
      await expect(client(dead.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['alice@example.test'] }, raw: msg() })).rejects.toMatchObject({
        responseCode: 451,
      });
    } finally {
      await dead.close();
    }
  });

  it('delivers when only a DNS blocklist is unreachable (no evidence either way)', async () => {
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const deadBl = resolverFor([`127.0.0.1:${hole.address().port}`], { timeoutMs: 100 });
    // Everything answers from the test DNS except the blocklist zone, which never answers.
    const resolver: Resolver = (name, type) => (name.endsWith('.bl.test') ? deadBl(name, type) : dns.resolver(name, type));
    const m = await startMx(baseDeps(store, dns, { resolver, spam: { dnsbl: ['bl.test'], junkScore: 5, rejectScore: 15 } }));
    try {
      const info = await client(m.port).sendMail({
        envelope: { from: 'someone@sender.test', to: ['alice@example.test'] },
        raw: sampleMessage({ from: 'someone@sender.test', body: 'marker-dead-dnsbl' }),
      });
      expect(info.response).toMatch(/^250 /);
    } finally {
      await m.close();
      hole.close();
    }
    const stored = (await folderRaws(store, 'alice@example.test', PW)).find((x) => x.includes('marker-dead-dnsbl'));
    expect(stored).toContain('X-Haven-Spam: no');
  });
});
