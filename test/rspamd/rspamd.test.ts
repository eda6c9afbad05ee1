/**
 * Content filtering with a real rspamd and Redis (issue 17): verdicts at
 * SMTP time through the real MX (GTUBE refused, a clean message delivered
 * and read back over IMAP, a DMARC p=reject failure still refused while
 * rspamd is asked alongside the verification), Bayes learning from IMAP MOVE into Junk and
 * $NotJunk, and mail still flowing on Haven's own score while rspamd is
 * down, with the outage on /health. Needs `rspamd` and `redis-server` (.ci/run).
 */
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth } from '../../node/http/health.js';
import { startImap } from '../../node/imap/index.js';
import { Rspamd, rspamdFilter, startLearner, type Learner } from '../../node/rspamd/index.js';
import type { Store } from '../../node/store/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { startRspamd, type TestRspamd } from '../helpers/rspamd.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';
import { baseDeps, client, folderRaws, publishDomain, startMx } from '../smtp/harness.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const PW = 'correct horse battery';

let t: TestStore;
let store: Store;
let dns: TestDns;
let rs: TestRspamd;
let rspamd: Rspamd;
let learner: Learner;
let mx: { port: number; close(): Promise<void> };
let imap: { port: number; close(): Promise<void> };

beforeAll(async () => {
  dns = await startTestDns();
  rs = await startRspamd({ dnsPort: dns.port });
  t = makeTestStore();
  store = t.store;
  await addAccount(store, 'alice@example.test', PW);
  publishDomain(dns, store, 'example.test');
  dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
  rspamd = new Rspamd({ url: rs.url, controllerUrl: rs.controllerUrl, timeoutMs: 10_000 });
  learner = startLearner(store, rspamd, silentLogger);
  mx = await startMx(baseDeps(store, dns, { spam: { dnsbl: [], content: rspamdFilter(rspamd, { log: silentLogger, hostname: 'mx.haven.test' }) } }));
  const { key, cert } = testTls();
  const ctx = tls.createSecureContext({ key, cert });
  imap = await startImap(
    { store, log: silentLogger, authLimiter: new AuthLimiter({ stepDelayMs: 0 }), tls: { secureContext: () => ctx }, hostname: 'localhost', allowPlaintextOnLoopback: true },
    { host: '127.0.0.1', port: 0, implicitTls: false },
  );
}, 300_000);

afterAll(async () => {
  learner?.stop();
  await mx?.close();
  await imap?.close();
  await rs?.stop();
  await dns?.close();
  t?.cleanup();
});

function message(subject: string, body: string, id: string): Buffer {
  return Buffer.from(
    [
      'From: Bob <bob@sender.test>',
      'To: alice@example.test',
      `Subject: ${subject}`,
      'Date: Mon, 07 Dec 2026 10:00:00 +0000',
      `Message-ID: <${id}@sender.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

function send(port: number, raw: Buffer) {
  return client(port).sendMail({ envelope: { from: 'bob@sender.test', to: ['alice@example.test'] }, raw });
}

/** Resolves once `n` lessons have been answered by rspamd (learned, already known, or failed). */
async function lessons(n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  const answered = () => learner.stats.learned + learner.stats.already + learner.stats.failed + learner.stats.dropped;
  while (answered() < n) {
    if (Date.now() > deadline) throw new Error(`only ${answered()} of ${n} lessons answered: ${JSON.stringify(learner.stats)}`);
    await learner.idle();
    await new Promise((r) => setTimeout(r, 20));
  }
}

const SPAM = (i: number) => message(`cheap pills viagra offer ${i}`, `Buy cheap pills now, viagra cialis discount pharmacy offer, limited time, click here to order cheap pills from our online pharmacy today ${i}`, `spam${i}`);
const HAM = (i: number) => message(`meeting notes for the project ${i}`, `Hi Alice, attached are the meeting notes for the project review on Tuesday; see you at the office next week with the budget numbers ${i}`, `ham${i}`);

describe('verdicts at SMTP time', () => {
  it('refuses GTUBE (rspamd says reject)', async () => {
    const err = await send(mx.port, message('test', GTUBE, 'gtube')).then(
      () => null,
      (e: { responseCode?: number }) => e,
    );
    expect(err?.responseCode).toBe(550);
    expect(rspamd.health().state).toBe('up');
  });

  // rspamd is asked while Haven verifies; RFC 7489 §6.6.3's p=reject still refuses, whatever rspamd answers.
  it('refuses a message failing DMARC p=reject although rspamd was asked alongside the verification', async () => {
    dns.add('forged.test', { TXT: ['v=spf1 -all'] });
    dns.add('_dmarc.forged.test', { TXT: ['v=DMARC1; p=reject'] });
    const raw = Buffer.from(message('invoice', 'please pay the attached invoice', 'forged1').toString().replace('bob@sender.test', 'billing@forged.test'));
    const err = await client(mx.port)
      .sendMail({ envelope: { from: 'billing@forged.test', to: ['alice@example.test'] }, raw })
      .then(
        () => null,
        (e: { responseCode?: number; response?: string }) => e,
      );
    expect(err?.responseCode).toBe(550);
    expect(err?.response).toMatch(/5\.7\.1 .*DMARC policy of forged\.test/);
    expect(rspamd.health().state).toBe('up');
    const inbox = await folderRaws(store, 'alice@example.test', PW);
    expect(inbox.some((m) => m.includes('<forged1@sender.test>'))).toBe(false);
  });

  it('delivers a clean message to INBOX with rspamd\'s verdict in X-Haven-Spam', async () => {
    await send(mx.port, HAM(0));
    const inbox = await folderRaws(store, 'alice@example.test', PW);
    const got = inbox.find((m) => m.includes('<ham0@sender.test>'));
    expect(got).toBeDefined();
    expect(got).toMatch(/^X-Haven-Spam: no; score=-?[0-9.]+; rspamd=no-action\(/m);
    // Delivery is not a lesson: nothing was learned from mail arriving.
    await learner.idle();
    expect(learner.stats.learned).toBe(0);
  });
});

// Haven verifies SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC (RFC 8617) itself; the
// server's rspamd has those modules off (infra/cloud-init.ts), so each result is scored once, by Haven.
describe('authentication is scored once, by Haven', () => {
  it('rspamd does not repeat SPF, DKIM, DMARC or ARC, even for a sender it would check', async () => {
    // A public address: rspamd skips these checks for loopback senders anyway, so only this shows the modules are off.
    const v = await rspamd.check({ raw: message('hello', 'a plain note', 'auth1'), ip: '203.0.113.5', helo: 'mail.sender.test', mailFrom: 'bob@sender.test', rcpts: ['alice@example.test'] });
    expect(v.symbols.map((s) => s.name).filter((n) => /^(R_SPF_|R_DKIM_|DKIM_|DMARC_|ARC_)/.test(n))).toEqual([]);
  });

  it('adds Haven\'s own SPF result to rspamd\'s score in X-Haven-Spam', async () => {
    dns.add('nospf.test', { TXT: ['v=spf1 -all'] });
    const raw = Buffer.from(message('lunch on friday', 'Shall we have lunch on Friday at the usual place near the office?', 'nospf1').toString().replace('bob@sender.test', 'bob@nospf.test'));
    await client(mx.port).sendMail({ envelope: { from: 'bob@nospf.test', to: ['alice@example.test'] }, raw });
    const all = [...(await folderRaws(store, 'alice@example.test', PW)), ...(await folderRaws(store, 'alice@example.test', PW, 'Junk').catch(() => []))];
    const header = /^X-Haven-Spam: .*$/m.exec(all.find((m) => m.includes('<nospf1@sender.test>')) ?? '')?.[0] ?? '';
    // RFC 7208 §2.6.2 "fail": Haven's 3 points, and 1 for a message neither SPF nor DKIM vouches for.
    expect(header).toMatch(/ spf=fail\(3\) unauthenticated\(1\)/);
    const [, total, own] = /score=(-?[0-9.]+); rspamd=[a-z-]+\((-?[0-9.]+)\)/.exec(header) ?? [];
    expect(Number(total)).toBeCloseTo(Number(own) + 4, 1);
  });
});

describe('learning from Junk', () => {
  const bayes = async (raw: Buffer) => (await rspamd.check({ raw, ip: '127.0.0.1', helo: 'client.remote.test', mailFrom: 'bob@sender.test', rcpts: ['alice@example.test'] })).symbols.map((s) => s.name).filter((n) => n.startsWith('BAYES'));

  it('MOVE into Junk teaches spam, $NotJunk teaches ham, and the BAYES symbols follow', async () => {
    const probe = SPAM(99);
    expect(await bayes(probe)).toEqual([]);
    for (let i = 1; i <= 3; i++) await send(mx.port, SPAM(i));
    for (let i = 1; i <= 3; i++) await send(mx.port, HAM(i));
    const c = new ImapFlow({ host: '127.0.0.1', port: imap.port, secure: false, doSTARTTLS: false, auth: { user: 'alice@example.test', pass: PW }, logger: false });
    await c.connect();
    try {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const spamUids: number[] = [];
        const hamUids: number[] = [];
        for await (const m of c.fetch('1:*', { envelope: true, uid: true })) {
          if (m.envelope?.subject?.startsWith('cheap pills')) spamUids.push(m.uid);
          if (m.envelope?.subject?.startsWith('meeting notes for the project ') && m.envelope.subject !== 'meeting notes for the project 0') hamUids.push(m.uid);
        }
        expect(spamUids).toHaveLength(3);
        await c.messageMove(spamUids.join(','), 'Junk', { uid: true });
        await c.messageFlagsAdd(hamUids.join(','), ['$NotJunk'], { uid: true });
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
    // A STORE's change is announced once it is durable, which may be just after the IMAP reply: wait for all six lessons.
    await lessons(6);
    // A lesson rspamd's learn conditions decline (Bayes already sure of that class: HTTP 204) counts as "already", not as a failure.
    expect({ ...learner.stats, taught: learner.stats.learned + learner.stats.already }).toMatchObject({ taught: 6, failed: 0, dropped: 0 });
    expect(learner.stats.learned).toBeGreaterThanOrEqual(2);
    expect(await bayes(probe)).toEqual(['BAYES_SPAM']);
    expect(await bayes(HAM(98))).toEqual(['BAYES_HAM']);
  });
});

describe('a controller connection that breaks', () => {
  it('is tried again, so the lesson is still learned', async () => {
    // A TCP relay to the real controller that resets the first connection it is given.
    const target = new URL(rs.controllerUrl);
    let seen = 0;
    const relay = net.createServer((sock) => {
      sock.on('error', () => undefined);
      if (seen++ === 0) return sock.resetAndDestroy();
      const up = net.connect(Number(target.port), target.hostname);
      up.on('error', () => sock.destroy());
      sock.pipe(up).pipe(sock);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const second = startLearner(store, new Rspamd({ url: rs.url, controllerUrl: `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`, timeoutMs: 10_000 }), silentLogger);
    try {
      await send(mx.port, SPAM(70));
      const c = new ImapFlow({ host: '127.0.0.1', port: imap.port, secure: false, doSTARTTLS: false, auth: { user: 'alice@example.test', pass: PW }, logger: false });
      await c.connect();
      try {
        const lock = await c.getMailboxLock('INBOX');
        try {
          const uids: number[] = [];
          for await (const m of c.fetch('1:*', { envelope: true, uid: true })) if (m.envelope?.subject === 'cheap pills viagra offer 70') uids.push(m.uid);
          expect(uids).toHaveLength(1);
          await c.messageMove(uids.join(','), 'Junk', { uid: true });
        } finally {
          lock.release();
        }
      } finally {
        await c.logout();
      }
      const deadline = Date.now() + 30_000;
      while (second.stats.learned + second.stats.already + second.stats.failed === 0 && Date.now() < deadline) {
        await second.idle();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(seen).toBeGreaterThanOrEqual(2);
      expect(second.stats).toMatchObject({ failed: 0, dropped: 0 });
      expect(second.stats.learned + second.stats.already).toBe(1);
    } finally {
      second.stop();
      await new Promise((r) => relay.close(r));
    }
  });
});

describe('rspamd down', () => {
  it('accepts mail on Haven\'s own score and shows the outage on /health', async () => {
    const dead = new Rspamd({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 });
    const mx2 = await startMx(baseDeps(store, dns, { spam: { dnsbl: [], content: rspamdFilter(dead, { log: silentLogger, hostname: 'mx.haven.test' }) } }));
    try {
      await send(mx2.port, HAM(50));
      const got = (await folderRaws(store, 'alice@example.test', PW)).find((m) => m.includes('<ham50@sender.test>'));
      expect(got).toMatch(/^X-Haven-Spam: no; score=0\.0\r$/m);
      expect(dead.health()).toMatchObject({ state: 'down', error: expect.stringContaining('does not answer') });
      const h = await checkHealth({ store, tls: { daysUntilExpiry: () => 90, info: { subject: 'CN=x' } }, dataDir: t.dataDir, version: 'test', source: { spam: () => dead.health() } });
      expect(h.spam).toMatchObject({ rspamd: 'down', ok: false, error: expect.stringContaining('scored by Haven alone') });
      // Mail still flows, so the node as a whole stays healthy.
      expect(h.ok).toBe(true);
    } finally {
      await mx2.close();
    }
  });
});
