/**
 * Forwarding aliases to outside addresses: the envelope sender is rewritten
 * with SRS so SPF passes at the destination, the message is ARC-sealed and
 * keeps its original DKIM (so DMARC passes too), and a bounce sent back to
 * the SRS address is routed to the original sender. Forged SRS addresses
 * are refused.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../node/store/index.js';
import { startQueueRunner, type QueueRunner } from '../../node/smtp/index.js';
import { silentLogger } from '../../node/util/log.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';
import { baseDeps, client, HOST, publishDomain, rawSession, startMx, startRemoteMx, type RemoteMx } from './harness.js';

let t: TestStore;
let store: Store;
let dns: TestDns;
let remote: RemoteMx;
let mx: { port: number; close(): Promise<void> };
let runner: QueueRunner;
let senderKey = '';

beforeAll(async () => {
  t = makeTestStore();
  store = t.store;
  dns = await startTestDns();
  await addAccount(store, 'alice@example.test');
  store.directory.addAlias('fwd@example.test', ['dest@remote.test']);
  publishDomain(dns, store, 'example.test');
  // The original sender's domain: SPF allows the client's IP (it sends to us directly), DKIM-signs, p=reject.
  const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
  senderKey = k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
  dns.add('s1._domainkey.sender.test', { TXT: [`v=DKIM1; k=rsa; p=${(k.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64')}`] });
  dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=reject'] });
  dns.add('remote.test', { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
  dns.add('mx.remote.test', { A: ['127.0.0.1'] });
  remote = await startRemoteMx(dns);
  mx = await startMx(baseDeps(store, dns));
  runner = startQueueRunner({ store, log: silentLogger, hostname: HOST, resolver: dns.resolver, outbound: { port: remote.port, families: [4] } });
});

afterAll(async () => {
  await runner?.close();
  await mx?.close();
  await remote?.close();
  await dns?.close();
  t?.cleanup();
});

async function signedFromSender(body: string): Promise<Buffer> {
  const msg = sampleMessage({ from: 'Someone <someone@sender.test>', to: 'fwd@example.test', body });
  const r = await dkimSign(msg, {
    signingDomain: 'sender.test',
    selector: 's1',
    privateKey: senderKey,
    signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: senderKey, canonicalization: 'relaxed/relaxed' }],
  });
  return Buffer.concat([Buffer.from(r.signatures), msg]);
}

describe('forwarding', () => {
  let srsAddress = '';

  it('rewrites the sender with SRS, ARC-seals, and the destination sees SPF, DKIM, DMARC and ARC pass', async () => {
    const before = remote.received.length;
    await client(mx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['fwd@example.test'] }, raw: await signedFromSender('marker-forward') });
    await remote.waitFor(before + 1);
    const got = remote.received[before];
    expect(got.rcptTo).toEqual(['dest@remote.test']);
    expect(got.mailFrom).toMatch(/^SRS0=[^=]{4}=[A-Z2-7]{2}=sender\.test=someone@example\.test$/);
    srsAddress = got.mailFrom;
    expect(got.auth.spf && [got.auth.spf.status.result, got.auth.spf.domain]).toEqual(['pass', 'example.test']);
    expect(got.auth.dkim.results.find((r) => r.signingDomain === 'sender.test')?.status.result).toBe('pass');
    expect(got.auth.dmarc && got.auth.dmarc.status.result).toBe('pass');
    expect(got.auth.arc && got.auth.arc.status.result).toBe('pass');
    expect(got.raw.toString()).toMatch(/^ARC-Seal: i=1; .*d=example\.test/m);
  });

  it('refuses junk-scored mail for a forwarding alias instead of passing it on', async () => {
    dns.add('1.0.0.127.fwd-bl.test', { A: ['127.0.0.2'] });
    const strict = await startMx(baseDeps(store, dns, { spam: { dnsbl: ['fwd-bl.test'], junkScore: 5, rejectScore: 15 } }));
    try {
      const before = remote.received.length;
      await expect(
        client(strict.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['fwd@example.test'] }, raw: await signedFromSender('marker-junk-forward') }),
      ).rejects.toMatchObject({ responseCode: 550, response: expect.stringMatching(/^550 5\.7\.1 .*forwards/) });
      await runner.idle();
      expect(remote.received.slice(before).some((m) => m.raw.includes('marker-junk-forward'))).toBe(false);
    } finally {
      await strict.close();
    }
  });

  it('routes a bounce to the SRS address back to the original sender', async () => {
    expect(srsAddress).not.toBe('');
    const before = remote.received.length;
    const bounce = Buffer.from('From: MAILER-DAEMON@remote.test\r\nTo: ' + srsAddress + '\r\nSubject: Undeliverable\r\n\r\nmarker-bounce-back\r\n');
    await client(mx.port).sendMail({ envelope: { from: '', to: [srsAddress] } as never, raw: bounce });
    await remote.waitFor(before + 1);
    const got = remote.received[before];
    expect(got.rcptTo).toEqual(['someone@sender.test']);
    expect(got.mailFrom).toBe('');
    expect(got.raw.toString()).toContain('marker-bounce-back');
  });

  it('refuses a forged SRS address, and non-bounce mail to a genuine one', async () => {
    const s = await rawSession(mx.port);
    await s.reply();
    await s.cmd('EHLO remote.test');
    await s.cmd('MAIL FROM:<>');
    const forged = srsAddress.replace(/^SRS0=[^=]{4}=/, 'SRS0=AAAA=');
    expect(await s.cmd(`RCPT TO:<${forged}>`)).toMatch(/^550 5\.1\.1 /);
    await s.cmd('RSET');
    await s.cmd('MAIL FROM:<spammer@sender.test>');
    expect(await s.cmd(`RCPT TO:<${srsAddress}>`)).toMatch(/^550 5\.7\.1 /);
    s.close();
  });
});
