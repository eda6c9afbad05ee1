/**
 * Configuration reaches SMTP: a config file's DNS blocklists, spam
 * thresholds, recipient limit and smarthost, mapped by smtpSettings, drive a
 * real MX listener started from the mapped listener list.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { smtpSettings, startSmtp } from '../../node/smtp/index.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';
import { baseDeps, client, folderRaws, publishDomain, rawSession } from './harness.js';

const PW = 'correct horse battery';
let t: TestStore;
let dns: TestDns;

beforeAll(async () => {
  t = makeTestStore();
  dns = await startTestDns();
  await addAccount(t.store, 'alice@example.test', PW);
  publishDomain(dns, t.store, 'example.test');
  dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
  dns.add('1.0.0.127.listed.test', { A: ['127.0.0.2'] });
});

afterAll(async () => {
  await dns?.close();
  t?.cleanup();
});

it('maps limits, blocklists, thresholds, listeners and the smarthost from the config', async () => {
  const config = testConfig(t.dataDir, {
    hostname: 'mail.example.test',
    dnsbl: ['listed.test'],
    spam: { junkScore: 4, rejectScore: 40 },
    limits: { maxRecipients: 2 },
    smarthost: 'smtps://relay%40user:p%40ss@relay.example.net:2465',
    trustedArcSealers: ['lists.example.org'],
  });
  const s = smtpSettings(config);
  expect(s.trustedArcSealers).toEqual(['lists.example.org']);
  expect(smtpSettings(testConfig(t.dataDir)).trustedArcSealers).toEqual([]);
  expect(s.outbound.smarthost).toEqual({ host: 'relay.example.net', port: 2465, secure: true, auth: { user: 'relay@user', pass: 'p@ss' } });
  expect(s.listeners.map((l) => [l.mode, l.implicitTls])).toEqual([
    ['mx', false],
    ['submission', false],
    ['submission', true],
  ]);
  expect(smtpSettings(testConfig(t.dataDir)).outbound.smarthost).toBeUndefined();
  expect(smtpSettings(testConfig(t.dataDir, { outbound: { sourceAddresses: ['203.0.113.25', '2001:db8::25'] } })).outbound.sourceAddresses).toEqual(['203.0.113.25', '2001:db8::25']);
  expect(smtpSettings(testConfig(t.dataDir)).outbound.sourceAddresses).toBeUndefined();
  expect(smtpSettings(testConfig(t.dataDir, { allowPlaintextAuthOnLoopback: false })).allowPlaintextAuthOnLoopback).toBe(false);
  expect(s.allowPlaintextAuthOnLoopback).toBe(true);

  const mx = await startSmtp(baseDeps(t.store, dns, { hostname: s.hostname, limits: s.limits, spam: s.spam }), s.listeners[0]);
  try {
    const r = await rawSession(mx.port);
    expect(await r.reply()).toMatch(/^220 mail\.example\.test /);
    await r.cmd('EHLO client.remote.test');
    await r.cmd('MAIL FROM:<someone@sender.test>');
    expect(await r.cmd('RCPT TO:<alice@example.test>')).toMatch(/^250/);
    expect(await r.cmd('RCPT TO:<alice+a@example.test>')).toMatch(/^250/);
    expect(await r.cmd('RCPT TO:<alice+b@example.test>')).toMatch(/^452 4\.5\.3 /);
    r.close();

    await client(mx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['alice@example.test'] }, raw: sampleMessage({ from: 'someone@sender.test', body: 'marker-config-dnsbl' }) });
    const junk = (await folderRaws(t.store, 'alice@example.test', PW, 'Junk')).find((m) => m.includes('marker-config-dnsbl'));
    expect(junk).toMatch(/X-Haven-Spam: yes; score=\d+\.0; .*dnsbl=listed\.test/);
  } finally {
    await mx.close();
  }
});
