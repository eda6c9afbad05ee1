/**
 * Submission on 587 (STARTTLS before AUTH) and 465 (implicit TLS), end to
 * end: nodemailer submits, Haven DKIM-signs (RSA and Ed25519) and queues,
 * the queue runner delivers to a second real SMTP server on loopback, and
 * that server's mailauth sees SPF, DKIM and DMARC pass against the loopback
 * DNS. Also: ownership of envelope and From, AUTH lockout, hourly limit.
 */
import { networkInterfaces } from 'node:os';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../node/store/index.js';
import { startQueueRunner, startSmtp, type QueueRunner, type RunnerEvent } from '../../node/smtp/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';
import { baseDeps, client, folderRaws, HOST, publishDomain, rawSession, startRemoteMx, type RemoteMx } from './harness.js';
import { silentLogger } from '../../node/util/log.js';

let t: TestStore;
let store: Store;
let dns: TestDns;
let remote: RemoteMx;
let sub587: { port: number; close(): Promise<void> };
let sub465: { port: number; close(): Promise<void> };
let runner: QueueRunner;
const PW = 'correct horse battery';
const alice = { user: 'alice@example.test', pass: PW };

beforeAll(async () => {
  t = makeTestStore();
  store = t.store;
  dns = await startTestDns();
  await addAccount(store, 'alice@example.test', PW);
  await addAccount(store, 'bob@example.test', PW);
  store.directory.addDkimKey('example.test', 'ed25519');
  publishDomain(dns, store, 'example.test');
  dns.add('remote.test', { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
  dns.add('mx.remote.test', { A: ['127.0.0.1'] });
  remote = await startRemoteMx(dns);
  const deps = baseDeps(store, dns);
  sub587 = await startSmtp(deps, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'submission' });
  sub465 = await startSmtp(deps, { host: '127.0.0.1', port: 0, implicitTls: true, mode: 'submission' });
  runner = startQueueRunner({ store, log: silentLogger, hostname: HOST, resolver: dns.resolver, outbound: { port: remote.port, families: [4], retryDelaysMs: [200] } });
});

afterAll(async () => {
  await runner?.close();
  await sub587?.close();
  await sub465?.close();
  await remote?.close();
  await dns?.close();
  t?.cleanup();
});

function nextResult(pred: (e: RunnerEvent) => boolean): Promise<RunnerEvent> {
  return new Promise((resolve) => {
    const on = (e: RunnerEvent) => {
      if (!pred(e)) return;
      runner.events.off('event', on);
      resolve(e);
    };
    runner.events.on('event', on);
  });
}

describe('submission', () => {
  it('587: DKIM-signs, queues, delivers; the remote MX verifies SPF, DKIM (RSA and Ed25519) and DMARC as pass', async () => {
    const before = remote.received.length;
    const info = await client(sub587.port, { auth: alice, requireTLS: true }).sendMail({
      from: 'Alice <alice@example.test>',
      to: 'dest@remote.test',
      subject: 'signed',
      text: 'marker-587',
    });
    expect(info.response).toMatch(/^250 /);
    await remote.waitFor(before + 1);
    const got = remote.received[before];
    expect(got.raw.toString()).toContain('marker-587');
    expect(got.mailFrom).toBe('alice@example.test');
    expect(got.rcptTo).toEqual(['dest@remote.test']);
    // Opportunistic STARTTLS on the way out: the remote MX offers it, so it is used.
    expect(got.secure).toBe(true);
    expect(got.auth.spf && got.auth.spf.status.result).toBe('pass');
    const dkim = got.auth.dkim.results.map((r) => [r.signingDomain, r.status.result, /header\.a=([\w-]+)/.exec(r.info)?.[1]]);
    expect(dkim).toEqual(
      expect.arrayContaining([
        ['example.test', 'pass', 'rsa-sha256'],
        ['example.test', 'pass', 'ed25519-sha256'],
      ]),
    );
    expect(got.auth.dmarc && got.auth.dmarc.status.result).toBe('pass');
  });

  it('465: implicit TLS submission works', async () => {
    const before = remote.received.length;
    await client(sub465.port, { secure: true, auth: alice }).sendMail({ from: 'alice@example.test', to: 'dest@remote.test', text: 'marker-465' });
    await remote.waitFor(before + 1);
    expect(remote.received[before].raw.toString()).toContain('marker-465');
  });

  it('delivers to local recipients directly, without the queue', async () => {
    await client(sub587.port, { auth: alice }).sendMail({ from: 'alice@example.test', to: 'bob@example.test', text: 'marker-local' });
    const lease = await store.authenticate('bob@example.test', PW);
    try {
      const inbox = lease.mailbox.folders.require('INBOX');
      const raws = lease.mailbox.messages.list(inbox.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString());
      expect(raws.filter((r) => r.includes('marker-local') && r.includes('DKIM-Signature'))).toHaveLength(1);
    } finally {
      lease.release();
    }
  });

  it('accepts AUTH LOGIN and PLAIN with an app password, and refuses it once revoked', async () => {
    const app = await store.addAppPassword('alice@example.test', 'phone', PW);
    for (const authMethod of ['LOGIN', 'PLAIN']) {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port: sub587.port, requireTLS: true, authMethod, auth: { user: 'alice@example.test', pass: app.password }, tls: { rejectUnauthorized: false } });
      const info = await t.sendMail({ from: 'alice@example.test', to: 'bob@example.test', text: `marker-app-${authMethod}` });
      expect(info.response).toMatch(/^250 /);
    }
    store.revokeAppPassword('alice@example.test', app.id);
    const revoked = nodemailer.createTransport({ host: '127.0.0.1', port: sub587.port, requireTLS: true, auth: { user: 'alice@example.test', pass: app.password }, tls: { rejectUnauthorized: false } });
    await expect(revoked.verify()).rejects.toMatchObject({ responseCode: 535 });
  });

  it('refuses AUTH before STARTTLS on 587, and MAIL before AUTH', async () => {
    const s = await rawSession(sub587.port);
    await s.reply();
    const ehlo = await s.cmd('EHLO client.remote.test');
    expect(ehlo).toContain('STARTTLS');
    expect(await s.cmd(`AUTH PLAIN ${Buffer.from(`\0alice@example.test\0${PW}`).toString('base64')}`)).toMatch(/^5\d\d .*STARTTLS/i);
    expect(await s.cmd('MAIL FROM:<alice@example.test>')).toMatch(/^530 /);
    s.close();
  });

  it('with allowPlaintextAuthOnLoopback, a loopback client may AUTH without STARTTLS; others still may not', async () => {
    const s = await startSmtp(baseDeps(store, dns, { allowPlaintextAuthOnLoopback: true }), { host: '0.0.0.0', port: 0, implicitTls: false, mode: 'submission' });
    const plain = `AUTH PLAIN ${Buffer.from(`\0alice@example.test\0${PW}`).toString('base64')}`;
    try {
      const local = await rawSession(s.port);
      await local.reply();
      await local.cmd('EHLO client.remote.test');
      expect(await local.cmd(plain)).toMatch(/^235 /);
      local.close();
      // The same server reached over a non-loopback address of this machine still wants STARTTLS first.
      const outside = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
      expect(outside).toBeDefined();
      const remote = await rawSession(s.port, outside!);
      await remote.reply();
      await remote.cmd('EHLO client.remote.test');
      expect(await remote.cmd(plain)).toMatch(/^538 .*STARTTLS/);
      remote.close();
    } finally {
      await s.close();
    }
  });

  it('refuses an envelope sender or From header the account does not own with 550 5.7.1', async () => {
    await expect(
      client(sub587.port, { auth: alice }).sendMail({ envelope: { from: 'bob@example.test', to: ['dest@remote.test'] }, from: 'alice@example.test', to: 'dest@remote.test', text: 'x' }),
    ).rejects.toMatchObject({ responseCode: 550, response: expect.stringMatching(/^550 5\.7\.1 /) });
    await expect(
      client(sub587.port, { auth: alice }).sendMail({ envelope: { from: 'alice@example.test', to: ['dest@remote.test'] }, from: 'ceo@bank.test', to: 'dest@remote.test', text: 'x' }),
    ).rejects.toMatchObject({ responseCode: 550, response: expect.stringMatching(/^550 5\.7\.1 .*ceo@bank\.test/) });
  });
});

describe('abuse limits', () => {
  it('locks out AUTH brute force: after the failures, even the right password gets 454 4.7.0', async () => {
    const limiter = new AuthLimiter({ maxFailures: 3, stepDelayMs: 1, maxDelayMs: 5, lockoutMs: 60_000 });
    const s = await startSmtp(baseDeps(store, dns, { authLimiter: limiter }), { host: '127.0.0.1', port: 0, implicitTls: true, mode: 'submission' });
    try {
      for (let i = 0; i < 3; i++) {
        await expect(client(s.port, { secure: true, auth: { user: 'alice@example.test', pass: `wrong-${i}-password` } }).verify()).rejects.toMatchObject({ responseCode: 535 });
      }
      await expect(client(s.port, { secure: true, auth: alice }).verify()).rejects.toMatchObject({ responseCode: 454, response: expect.stringMatching(/^454 4\.7\.0 /) });
    } finally {
      await s.close();
    }
  });

  it('slows failures per account across IPs, then locks the account while other accounts still log in', async () => {
    const limiter = new AuthLimiter({ maxFailures: 3, stepDelayMs: 150, maxDelayMs: 1000, lockoutMs: 60_000 });
    const s = await startSmtp(baseDeps(store, dns, { authLimiter: limiter }), { host: '127.0.0.1', port: 0, implicitTls: true, mode: 'submission' });
    // Each attempt from its own loopback address, so only the per-account counter can link them.
    const from = (ip: string, auth: { user: string; pass: string }) =>
      nodemailer.createTransport({ host: '127.0.0.1', port: s.port, secure: true, localAddress: ip, auth, tls: { rejectUnauthorized: false } });
    try {
      const took: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        await expect(from(`127.0.0.${10 + i}`, { user: 'bob@example.test', pass: `wrong-${i}-password` }).verify()).rejects.toMatchObject({ responseCode: 535 });
        took.push(Date.now() - started);
      }
      // The third attempt waited for the two earlier failures.
      expect(took[2]).toBeGreaterThanOrEqual(2 * 150);
      await expect(from('127.0.0.20', { user: 'bob@example.test', pass: PW }).verify()).rejects.toMatchObject({ responseCode: 454 });
      await expect(from('127.0.0.21', alice).verify()).resolves.toBe(true);
    } finally {
      await s.close();
    }
  });

  it('caps messages per hour per account with 451 4.7.0', async () => {
    const s = await startSmtp(baseDeps(store, dns, { limits: { messagesPerHourPerAccount: 2 } }), { host: '127.0.0.1', port: 0, implicitTls: true, mode: 'submission' });
    try {
      const c = client(s.port, { secure: true, auth: alice });
      await c.sendMail({ from: 'alice@example.test', to: 'bob@example.test', text: '1' });
      await c.sendMail({ from: 'alice@example.test', to: 'bob@example.test', text: '2' });
      await expect(c.sendMail({ from: 'alice@example.test', to: 'bob@example.test', text: '3' })).rejects.toMatchObject({
        responseCode: 451,
        response: expect.stringMatching(/^451 4\.7\.0 /),
      });
    } finally {
      await s.close();
    }
  });
});

describe('retry and bounce', () => {
  it('remote 4xx then 250: retried and delivered exactly once', async () => {
    const before = remote.received.length;
    let calls = 0;
    remote.onData = (_n, raw) => (raw.includes('marker-retry') && ++calls === 1 ? { code: 451, message: 'try later' } : null);
    const deferred = nextResult((e) => e.type === 'result' && e.outcome === 'deferred');
    const sent = nextResult((e) => e.type === 'result' && e.outcome === 'sent' && e.rcpt === 'retry@remote.test');
    await client(sub587.port, { auth: alice }).sendMail({ from: 'alice@example.test', to: 'retry@remote.test', text: 'marker-retry' });
    const d = await deferred;
    expect(d).toMatchObject({ outcome: 'deferred', response: expect.stringMatching(/^451/) });
    await sent;
    await remote.waitFor(before + 1);
    expect(remote.received.filter((m) => m.raw.includes('marker-retry'))).toHaveLength(1);
    expect(calls).toBe(2);
    remote.onData = () => null;
  });

  it('remote 5xx: one RFC 3464 DSN in the sender\'s INBOX', async () => {
    remote.onRcpt = (rcpt) => (rcpt === 'nobody@remote.test' ? { code: 550, message: 'no such user' } : null);
    const dsn = nextResult((e) => e.type === 'dsn');
    await client(sub587.port, { auth: alice }).sendMail({ from: 'alice@example.test', to: 'nobody@remote.test', subject: 'will bounce', text: 'marker-bounce' });
    expect(await dsn).toMatchObject({ action: 'failed', to: 'alice@example.test' });
    const lease = await store.authenticate('alice@example.test', PW);
    try {
      const inbox = lease.mailbox.folders.require('INBOX');
      const dsns = lease.mailbox.messages
        .list(inbox.id)
        .map((m) => lease.mailbox.messages.raw(m.blobId).toString())
        .filter((r) => r.includes('report-type=delivery-status'));
      expect(dsns).toHaveLength(1);
      expect(dsns[0]).toMatch(/Final-Recipient: rfc822; nobody@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.test/);
      expect(dsns[0]).toContain('marker-bounce');
    } finally {
      lease.release();
      remote.onRcpt = () => null;
    }
  });
});
