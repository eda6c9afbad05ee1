/**
 * The inbound MX with real clients: extensions, recipient checks (unknown,
 * quota, aliases, plus-addressing, catch-all), Authentication-Results,
 * DMARC p=reject against forged DKIM, the spam hook, smuggling, size,
 * recipient and connection limits.
 */
import { generateKeyPairSync } from 'node:crypto';
import { authenticate, dkimSign, sealMessage } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../node/store/index.js';
import { queueFor } from '../../node/smtp/index.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';
import { baseDeps, client, publishDomain, rawSession, startMx } from './harness.js';

let t: TestStore;
let store: Store;
let dns: TestDns;
let mx: { port: number; close(): Promise<void> };
const PW = 'correct horse battery';

async function inbox(address: string, folder = 'INBOX'): Promise<string[]> {
  const lease = await store.authenticate(address, PW);
  try {
    const f = lease.mailbox.folders.require(folder);
    return lease.mailbox.messages.list(f.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString('utf8'));
  } finally {
    lease.release();
  }
}

beforeAll(async () => {
  t = makeTestStore();
  store = t.store;
  dns = await startTestDns();
  await addAccount(store, 'alice@example.test', PW);
  await addAccount(store, 'bob@example.test', PW);
  await addAccount(store, 'carol@example.test', PW);
  await addAccount(store, 'full@example.test', PW);
  store.directory.updateAccount(store.directory.getAccount('full@example.test')!.id, { quotaBytes: 1000 });
  store.directory.addAlias('team@example.test', ['alice@example.test', 'bob@example.test', 'alice@example.test']);
  store.directory.addDomain('catchall.test');
  await store.createAccount('owner@catchall.test', PW);
  store.directory.addAlias('*@catchall.test', ['owner@catchall.test']);
  publishDomain(dns, store, 'example.test');
  dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
  dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] });
  mx = await startMx(baseDeps(store, dns, { limits: { maxMessageBytes: 64 * 1024, maxRecipients: 3, maxConnectionsPerIp: 4 } }));
});

afterAll(async () => {
  await mx?.close();
  await dns?.close();
  t?.cleanup();
});

describe('EHLO', () => {
  it('advertises the extensions of issue 3 (all but CHUNKING)', async () => {
    const s = await rawSession(mx.port);
    expect(await s.reply()).toMatch(/^220 mx\.haven\.test ESMTP/);
    const ehlo = await s.cmd('EHLO client.remote.test');
    for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN', 'STARTTLS', 'SIZE 65536']) expect(ehlo).toContain(ext);
    expect(ehlo).not.toContain('AUTH');
    // CHUNKING (RFC 3030 BDAT) is the one extension of the list smtp-server cannot do:
    // it has no BDAT command, so we do not advertise it, and BDAT is an unknown command.
    expect(ehlo).not.toContain('CHUNKING');
    expect(await s.cmd('BDAT 5 LAST')).toMatch(/^500 /);
    s.close();
  });
});

describe('delivery', () => {
  it('delivers into the (locked) mailbox with Received and Authentication-Results, 250 only after', async () => {
    const info = await client(mx.port).sendMail({
      envelope: { from: 'someone@sender.test', to: ['alice@example.test'] },
      raw: sampleMessage({ from: 'someone@sender.test', subject: 'first delivery', body: 'marker-first-delivery' }),
    });
    expect(info.response).toMatch(/^250 2\.6\.0 /);
    const msgs = await inbox('alice@example.test');
    const m = msgs.find((x) => x.includes('marker-first-delivery'));
    expect(m).toBeDefined();
    expect(m).toMatch(/^Received: from client\.remote\.test \(\[127\.0\.0\.1\] \[127\.0\.0\.1\]\)\r\n\tby mx\.haven\.test/);
    // nodemailer took the STARTTLS we offer: the trace header says so.
    expect(m).toMatch(/ with ESMTPS \(TLSv1\.[23] [A-Z0-9_-]+\) id /);
    expect(m).toMatch(/Authentication-Results: mx\.haven\.test;[\s\S]*spf=pass/);
    expect(m).toContain('X-Haven-Spam: no');
  });

  it('expands aliases to one copy per account, and honours plus-addressing and catch-all', async () => {
    await client(mx.port).sendMail({
      envelope: { from: 'someone@sender.test', to: ['team@example.test', 'alice+news@example.test', 'whoever@catchall.test'] },
      raw: sampleMessage({ from: 'someone@sender.test', body: 'marker-alias' }),
    });
    expect((await inbox('alice@example.test')).filter((x) => x.includes('marker-alias'))).toHaveLength(1);
    expect((await inbox('bob@example.test')).filter((x) => x.includes('marker-alias'))).toHaveLength(1);
    expect((await inbox('owner@catchall.test')).filter((x) => x.includes('marker-alias'))).toHaveLength(1);
  });

  it('refuses unknown users with 550 5.1.1 and full mailboxes with 452 4.2.2 at RCPT', async () => {
    const s = await rawSession(mx.port);
    await s.reply();
    await s.cmd('EHLO client.remote.test');
    expect(await s.cmd('MAIL FROM:<someone@sender.test> SIZE=5000')).toMatch(/^250/);
    expect(await s.cmd('RCPT TO:<nobody@example.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await s.cmd('RCPT TO:<full@example.test>')).toMatch(/^452 4\.2\.2 /);
    expect(await s.cmd('RCPT TO:<carol@example.test>')).toMatch(/^250/);
    s.close();
  });
});

describe('DSN', () => {
  it('sends a "delivered" notice, headers only, to a sender who asked NOTIFY=SUCCESS', async () => {
    const s = await rawSession(mx.port);
    await s.reply();
    await s.cmd('EHLO client.remote.test');
    expect(await s.cmd('MAIL FROM:<someone@sender.test> RET=FULL ENVID=env-42')).toMatch(/^250 /);
    expect(await s.cmd('RCPT TO:<carol@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;carol@example.test')).toMatch(/^250 /);
    expect(await s.cmd('RCPT TO:<bob@example.test>')).toMatch(/^250 /);
    expect(await s.cmd('DATA')).toMatch(/^354 /);
    s.send(sampleMessage({ from: 'someone@sender.test', body: 'marker-dsn-body' }));
    s.send('.\r\n');
    expect(await s.reply()).toMatch(/^250 /);
    s.close();
    const q = queueFor(store);
    const notices = q.due(Date.now() + 60_000, 1000).filter((r) => r.rcpt === 'someone@sender.test');
    expect(notices).toHaveLength(1);
    expect(q.message(notices[0].messageId)?.mailFrom).toBe('');
    const dsn = q.raw(notices[0].messageId)!.toString();
    expect(dsn).toContain('Original-Envelope-Id: env-42');
    expect(dsn).toMatch(/Final-Recipient: rfc822; carol@example\.test\r\nOriginal-Recipient: rfc822;carol@example\.test\r\nAction: delivered\r\nStatus: 2\.0\.0/);
    expect(dsn).not.toContain('bob@example.test'); // did not ask
    expect(dsn).toContain('text/rfc822-headers');
    expect(dsn).not.toContain('marker-dsn-body');
  });

  it('sends no notice to a sender SPF does not vouch for (no backscatter to forged senders)', async () => {
    dns.add('forged-sender.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] });
    const s = await rawSession(mx.port);
    await s.reply();
    await s.cmd('EHLO client.remote.test');
    expect(await s.cmd('MAIL FROM:<victim@forged-sender.test>')).toMatch(/^250 /);
    expect(await s.cmd('RCPT TO:<carol@example.test> NOTIFY=SUCCESS')).toMatch(/^250 /);
    expect(await s.cmd('DATA')).toMatch(/^354 /);
    s.send(sampleMessage({ from: 'victim@forged-sender.test', body: 'marker-backscatter' }));
    s.send('.\r\n');
    expect(await s.reply()).toMatch(/^250 /);
    s.close();
    expect(queueFor(store).due(Date.now() + 60_000, 1000).filter((r) => r.rcpt === 'victim@forged-sender.test')).toHaveLength(0);
    expect((await inbox('carol@example.test', 'Junk')).concat(await inbox('carol@example.test')).some((m) => m.includes('marker-backscatter'))).toBe(true);
  });
});

describe('SMTPUTF8 and 8BITMIME', () => {
  it('accepts a UTF-8 sender and headers with SMTPUTF8, and refuses the UTF-8 sender without it', async () => {
    const s = await rawSession(mx.port);
    await s.reply();
    await s.cmd('EHLO client.remote.test');
    expect(await s.cmd('MAIL FROM:<jürgen@sender.test>')).toMatch(/^5\d\d /);
    expect(await s.cmd('MAIL FROM:<jürgen@sender.test> SMTPUTF8 BODY=8BITMIME')).toMatch(/^250 /);
    expect(await s.cmd('RCPT TO:<carol@example.test>')).toMatch(/^250 /);
    expect(await s.cmd('DATA')).toMatch(/^354 /);
    s.send(Buffer.from('From: Jürgen <jürgen@sender.test>\r\nTo: carol@example.test\r\nSubject: Grüße marker-utf8\r\n\r\n8-bit body: naïve café\r\n.\r\n', 'utf8'));
    expect(await s.reply()).toMatch(/^250 /);
    s.close();
    const m = (await inbox('carol@example.test')).find((x) => x.includes('marker-utf8'));
    expect(m).toContain('Subject: Grüße marker-utf8');
    expect(m).toContain('naïve café');
  });
});

describe('open relay', () => {
  // Every classic trick; each must be refused at RCPT and nothing may reach the queue.
  const tricks = [
    'victim@outside.test',
    'victim%outside.test@example.test',
    'outside.test!victim@example.test',
    '@example.test:victim@outside.test',
    '"victim@outside.test"@example.test',
    'victim@outside.test.',
    'victim@outside.test@example.test',
    'alice@example.test.',
    'victim@[127.0.0.1]',
    '"victim%outside.test"@example.test',
    'victim@outside.test (comment)',
    'victim@OUTSIDE.TEST',
    'victim@[IPv6:::1]',
    'victim@example.test@outside.test',
    'victim@example.test.outside.test',
    'victim@sub.example.test',
    'victim@xn--exmple-cua.test',
    'victim@outside.test%example.test',
    '<victim@outside.test>',
    'alice@example.test,victim@outside.test',
    'alice@example.test victim@outside.test',
  ];
  it.each(tricks)('refuses RCPT TO:<%s>', async (addr) => {
    const before = queueFor(store).stats().queued;
    const s = await rawSession(mx.port);
    await s.reply();
    await s.cmd('EHLO client.remote.test');
    await s.cmd('MAIL FROM:<someone@sender.test>');
    const r = await s.cmd(`RCPT TO:<${addr}>`);
    expect(r).toMatch(/^5\d\d /);
    expect(await s.cmd('DATA')).toMatch(/^503 /);
    s.close();
    expect(queueFor(store).stats().queued).toBe(before);
  });
});

describe('smuggling', () => {
  const bodies: [string, string][] = [
    ['bare LF line', 'Subject: x\r\n\r\nline one\nline two\r\n'],
    ['\\n.\\n smuggled end', 'Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@outside.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled-marker\r\n'],
    ['\\r.\\r smuggled end', 'Subject: x\r\n\r\nhello\r.\rMAIL FROM:<evil@outside.test>\r\n'],
    ['\\r\\n.\\n end', 'Subject: x\r\n\r\nhello\r\n.\nRCPT TO:<bob@example.test>\r\n'],
  ];
  it.each(bodies)('refuses %s and delivers nothing', async (_name, body) => {
    const s = await rawSession(mx.port);
    await s.reply();
    await s.cmd('EHLO client.remote.test');
    await s.cmd('MAIL FROM:<someone@sender.test>');
    await s.cmd('RCPT TO:<carol@example.test>');
    expect(await s.cmd('DATA')).toMatch(/^354/);
    s.send(body + '\r\n.\r\n');
    expect(await s.reply()).toMatch(/^554 5\.6\.11 /);
    // The session goes on in command mode, with nothing smuggled into it.
    expect(await s.cmd('NOOP')).toMatch(/^250/);
    s.close();
    const carol = await inbox('carol@example.test');
    expect(carol.filter((m) => m.includes('hello') || m.includes('smuggled-marker') || m.includes('line one'))).toHaveLength(0);
  });
});

describe('limits', () => {
  it('refuses an oversized message with 552 5.3.4', async () => {
    const big = sampleMessage({ body: 'x'.repeat(70 * 1024) });
    await expect(client(mx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['carol@example.test'] }, raw: big })).rejects.toMatchObject({
      responseCode: 552,
    });
  });

  it('refuses recipients past the limit with 452 4.5.3', async () => {
    const s = await rawSession(mx.port);
    await s.reply();
    await s.cmd('EHLO client.remote.test');
    await s.cmd('MAIL FROM:<someone@sender.test>');
    for (const u of ['alice', 'bob', 'carol']) expect(await s.cmd(`RCPT TO:<${u}@example.test>`)).toMatch(/^250/);
    expect(await s.cmd('RCPT TO:<team@example.test>')).toMatch(/^452 4\.5\.3 /);
    s.close();
  });

  it('closes an idle connection with 421 after the socket timeout', async () => {
    const quick = await startMx(baseDeps(store, dns, { limits: { socketTimeoutMs: 300 } }));
    try {
      const s = await rawSession(quick.port);
      expect(await s.reply()).toMatch(/^220 /);
      await s.cmd('EHLO client.remote.test');
      const started = Date.now();
      expect(await s.reply()).toMatch(/^421 /);
      expect(await s.reply()).toBe(''); // closed
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      await quick.close();
    }
  });

  it('refuses connections past the per-IP limit with 421', async () => {
    const open = await Promise.all([0, 1, 2, 3].map(() => rawSession(mx.port)));
    for (const s of open) expect(await s.reply()).toMatch(/^220/);
    const fifth = await rawSession(mx.port);
    expect(await fifth.reply()).toMatch(/^421 4\.7\.0 /);
    for (const s of [...open, fifth]) s.close();
  });
});

describe('DMARC and DKIM', () => {
  let bankKey = '';
  beforeAll(() => {
    const real = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub = (real.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
    dns.add('bank.test', { TXT: ['v=spf1 -all'] });
    dns.add('sel._domainkey.bank.test', { TXT: [`v=DKIM1; k=rsa; p=${pub}`] });
    dns.add('_dmarc.bank.test', { TXT: ['v=DMARC1; p=reject'] });
    bankKey = real.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  });

  async function signed(key: string, body: string): Promise<Buffer> {
    const msg = sampleMessage({ from: 'Bank <alerts@bank.test>', to: 'carol@example.test', body });
    const r = await dkimSign(msg, {
      signingDomain: 'bank.test',
      selector: 'sel',
      privateKey: key,
      signatureData: [{ signingDomain: 'bank.test', selector: 'sel', privateKey: key, canonicalization: 'relaxed/relaxed' }],
    });
    expect(r.signatures).toMatch(/^DKIM-Signature: .*d=bank\.test/s);
    return Buffer.concat([Buffer.from(r.signatures), msg]);
  }

  it('refuses a forged DKIM signature from a p=reject domain with 550 5.7.1', async () => {
    const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const raw = await signed(forger, 'marker-forged');
    await expect(client(mx.port).sendMail({ envelope: { from: 'alerts@bank.test', to: ['carol@example.test'] }, raw })).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringMatching(/^550 5\.7\.1 .*DMARC/),
    });
    expect((await inbox('carol@example.test')).some((m) => m.includes('marker-forged'))).toBe(false);
  });

  it('accepts the same domain correctly signed, recording dkim=pass and dmarc=pass', async () => {
    const raw = await signed(bankKey, 'marker-genuine');
    await client(mx.port).sendMail({ envelope: { from: 'alerts@bank.test', to: ['carol@example.test'] }, raw });
    const m = (await inbox('carol@example.test')).find((x) => x.includes('marker-genuine'));
    expect(m).toMatch(/dkim=pass/);
    expect(m).toMatch(/dmarc=pass/);
  });
});

describe('ARC', () => {
  it('verifies an upstream forwarder\'s ARC seal and records arc=pass in Authentication-Results', async () => {
    const fwd = generateKeyPairSync('rsa', { modulusLength: 2048 });
    dns.add('fwd.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    dns.add('arc._domainkey.fwd.test', { TXT: [`v=DKIM1; k=rsa; p=${(fwd.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64')}`] });
    const original = sampleMessage({ from: 'someone@sender.test', to: 'carol@example.test', body: 'marker-arc' });
    // The forwarder authenticates what it received and seals it, as mailing lists and forwarders do.
    const sealed = await authenticate(original, {
      ip: '127.0.0.1',
      helo: 'client.sender.test',
      sender: 'someone@sender.test',
      mta: 'mx.fwd.test',
      resolver: dns.resolver,
      disableBimi: true,
      seal: { signingDomain: 'fwd.test', selector: 'arc', privateKey: fwd.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string },
    });
    expect(sealed.headers).toMatch(/^ARC-Seal: i=1;/m);
    await client(mx.port).sendMail({ envelope: { from: 'list@fwd.test', to: ['carol@example.test'] }, raw: Buffer.concat([Buffer.from(sealed.headers), original]) });
    const m = (await inbox('carol@example.test')).find((x) => x.includes('marker-arc'));
    expect(m).toMatch(/Authentication-Results: mx\.haven\.test;[\s\S]*arc=pass/);
  });
});

describe('ARC and DMARC reject', () => {
  // A mailing list: the author's domain says p=reject, the list edits the Subject
  // (breaking the author's DKIM) and seals what it received with ARC.
  async function viaList(marker: string): Promise<Buffer> {
    const author = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const list = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = (k: typeof author) => (k.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
    dns.set('author.test', { TXT: ['v=spf1 -all'] });
    dns.set('a1._domainkey.author.test', { TXT: [`v=DKIM1; k=rsa; p=${spki(author)}`] });
    dns.set('_dmarc.author.test', { TXT: ['v=DMARC1; p=reject'] });
    dns.set('lists.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    dns.set('l1._domainkey.lists.test', { TXT: [`v=DKIM1; k=rsa; p=${spki(list)}`] });
    const pem = (k: typeof author) => k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const msg = sampleMessage({ from: 'Author <me@author.test>', to: 'carol@example.test', subject: 'hello', body: marker });
    const key = { signingDomain: 'author.test', selector: 'a1', privateKey: pem(author) };
    const sig = await dkimSign(msg, { ...key, signatureData: [{ ...key, canonicalization: 'relaxed/relaxed' }] });
    const original = Buffer.concat([Buffer.from(sig.signatures), msg]);
    const seen = await authenticate(original, { ip: '127.0.0.1', helo: 'out.author.test', sender: 'me@author.test', mta: 'mx.lists.test', resolver: dns.resolver, disableBimi: true });
    expect(seen.dmarc && seen.dmarc.status.result).toBe('pass');
    const edited = Buffer.from(original.toString('latin1').replace('Subject: hello', 'Subject: [list] hello'), 'latin1');
    // mailauth's types omit the two fields a seal needs: what the list saw, and the chain state.
    const authResults = (seen.arc as unknown as { authResults: string }).authResults;
    const arcSet = await sealMessage(edited, { signingDomain: 'lists.test', selector: 'l1', privateKey: pem(list), authResults, cv: 'none' } as Parameters<typeof sealMessage>[1]);
    return Buffer.concat([arcSet, edited]);
  }

  it('refuses the list copy without trust, and delivers it when the list is a trusted ARC sealer', async () => {
    const untrusted = await viaList('marker-list-untrusted');
    await expect(client(mx.port).sendMail({ envelope: { from: 'bounces@lists.test', to: ['carol@example.test'] }, raw: untrusted })).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringMatching(/DMARC.*author\.test/),
    });
    const trusting = await startMx(baseDeps(store, dns, { trustedArcSealers: ['lists.test'] }));
    try {
      const trusted = await viaList('marker-list-trusted');
      const info = await client(trusting.port).sendMail({ envelope: { from: 'bounces@lists.test', to: ['carol@example.test'] }, raw: trusted });
      expect(info.response).toMatch(/^250 /);
    } finally {
      await trusting.close();
    }
    const m = (await inbox('carol@example.test')).find((x) => x.includes('marker-list-trusted'));
    expect(m).toMatch(/dmarc=fail/);
    expect(m).toMatch(/arc=pass/);
  });
});

describe('spam hook', () => {
  it('scores authentication results: SPF fail plus DMARC quarantine goes to Junk, with every reason in the header', async () => {
    dns.add('spoofy.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] });
    dns.add('_dmarc.spoofy.test', { TXT: ['v=DMARC1; p=quarantine'] });
    await client(mx.port).sendMail({
      envelope: { from: 'news@spoofy.test', to: ['carol@example.test'] },
      raw: sampleMessage({ from: 'news@spoofy.test', body: 'marker-quarantine' }),
    });
    const junk = (await inbox('carol@example.test', 'Junk')).find((m) => m.includes('marker-quarantine'));
    expect(junk).toMatch(/X-Haven-Spam: yes; score=9\.0; spf=fail\(3\) unauthenticated\(1\) dmarc=fail\(p=quarantine\)\(5\)/);
    expect((await inbox('carol@example.test')).some((m) => m.includes('marker-quarantine'))).toBe(false);
  });

  it('accepts into INBOX when the operator raises the junk threshold', async () => {
    const lenient = await startMx(baseDeps(store, dns, { spam: { dnsbl: [], junkScore: 50, rejectScore: 100 } }));
    try {
      await client(lenient.port).sendMail({
        envelope: { from: 'news@spoofy.test', to: ['carol@example.test'] },
        raw: sampleMessage({ from: 'news@spoofy.test', body: 'marker-lenient' }),
      });
      expect((await inbox('carol@example.test')).find((m) => m.includes('marker-lenient'))).toMatch(/X-Haven-Spam: no; score=9\.0/);
    } finally {
      await lenient.close();
    }
  });

  it('junks a message from a DNSBL-listed IP and rejects on a scorer past the threshold', async () => {
    dns.add('1.0.0.127.bl.test', { A: ['127.0.0.2'] });
    const junkMx = await startMx(
      baseDeps(store, dns, {
        spam: {
          dnsbl: ['bl.test'],
          junkScore: 5,
          rejectScore: 15,
          scorers: [(i) => (i.raw.includes('buy-now-marker') ? [{ score: 20, reason: 'test-scorer' }] : [])],
        },
      }),
    );
    try {
      await client(junkMx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['bob@example.test'] }, raw: sampleMessage({ from: 'someone@sender.test', body: 'marker-junk' }) });
      const junk = (await inbox('bob@example.test', 'Junk')).find((m) => m.includes('marker-junk'));
      expect(junk).toMatch(/X-Haven-Spam: yes; score=5\.0; dnsbl=bl\.test\(5\)\r\n/);
      expect((await inbox('bob@example.test')).some((m) => m.includes('marker-junk'))).toBe(false);
      expect(dns.queries).toContain('1.0.0.127.bl.test');
      await expect(
        client(junkMx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['bob@example.test'] }, raw: sampleMessage({ from: 'someone@sender.test', body: 'buy-now-marker' }) }),
      ).rejects.toMatchObject({ responseCode: 550 });
    } finally {
      await junkMx.close();
    }
  });
});
