/**
 * Outbound queue behaviour beyond one delivery: per-domain concurrency,
 * growing retry delays (and a default schedule that spans 5 days), MTA-STS
 * policies cached across lookups and across a restart, and IPv6 first with
 * IPv4 fallback. Remote MXes are real smtp-server instances on loopback.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OUTBOUND, queueFor, startQueueRunner, type OutboundOptions, type QueueRunner, type RunnerEvent } from '../../node/smtp/index.js';
import type { Store } from '../../node/store/index.js';
import { setWriteGate } from '../../node/store/db.js';
import { createSelfSignedCertificate } from '../../node/tls/self-signed.js';
import { silentLogger } from '../../node/util/log.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, testTls, type TestStore } from '../helpers/store.js';
import { HOST, waitEvent } from './harness.js';

const PW = 'correct horse battery';
let t: TestStore;
let store: Store;
let dns: TestDns;
let aliceId: string;

beforeAll(async () => {
  t = makeTestStore();
  store = t.store;
  dns = await startTestDns();
  aliceId = (await addAccount(store, 'alice@example.test', PW)).account.id;
});

afterAll(async () => {
  await dns?.close();
  t?.cleanup();
});

interface Mx {
  port: number;
  got: { rcpts: string[]; remote: string; secure: boolean }[];
  close(): Promise<void>;
}

/** A remote MX on one address; `onData` may delay or refuse. */
async function remoteMx(host: string, opts: { noTls?: boolean; port?: number; onRcpt?: (rcpt: string) => number | null; dataDelayMs?: number; onSession?: (delta: 1 | -1, rcpts: string[]) => void } = {}): Promise<Mx> {
  const { key, cert } = testTls();
  const got: Mx['got'] = [];
  const server = new SMTPServer({
    key,
    cert,
    logger: false,
    authOptional: true,
    disabledCommands: opts.noTls ? ['AUTH', 'STARTTLS'] : ['AUTH'],
    onRcptTo(address, _s, cb) {
      const code = opts.onRcpt?.(address.address) ?? null;
      cb(code ? Object.assign(new Error('not now'), { responseCode: code }) : undefined);
    },
    onData(stream, session, cb) {
      const rcpts = session.envelope.rcptTo.map((r) => r.address);
      opts.onSession?.(1, rcpts);
      stream.resume();
      stream.on('end', () => {
        // A slow MX, so that deliveries overlap (the scenario, not a wait for a condition).
        setTimeout(() => {
          got.push({ rcpts, remote: session.remoteAddress, secure: session.secure });
          opts.onSession?.(-1, rcpts);
          cb();
        }, opts.dataDelayMs ?? 0);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  return { port: (server.server.address() as AddressInfo).port, got, close: () => new Promise((r) => server.close(() => r())) };
}

function runner(outbound: Partial<OutboundOptions>): QueueRunner {
  return startQueueRunner({ store, log: silentLogger, hostname: HOST, resolver: dns.resolver, outbound: { families: [4], ca: testTls().cert, ...outbound } });
}

function enqueue(rcpt: string, body = 'x'): string {
  return queueFor(store).enqueue({ accountId: aliceId, mailFrom: 'alice@example.test', raw: sampleMessage({ from: 'alice@example.test', to: rcpt, body }) }, [{ rcpt }]);
}

function results(r: QueueRunner, n: number, pred: (e: RunnerEvent) => boolean): Promise<(RunnerEvent & { at: number })[]> {
  return new Promise((resolve) => {
    const out: (RunnerEvent & { at: number })[] = [];
    const on = (e: RunnerEvent) => {
      if (!pred(e)) return;
      out.push({ ...e, at: Date.now() });
      if (out.length === n) {
        r.events.off('event', on);
        resolve(out);
      }
    };
    r.events.on('event', on);
  });
}

describe('per-domain concurrency', () => {
  it('keeps at most perDomainConcurrency transactions open per domain, while other domains proceed', async () => {
    const active = new Map<string, number>();
    const peak = new Map<string, number>();
    let total = 0;
    let peakTotal = 0;
    const mx = await remoteMx('127.0.0.1', {
      dataDelayMs: 120,
      onSession(delta, rcpts) {
        const d = rcpts[0].split('@')[1];
        active.set(d, (active.get(d) ?? 0) + delta);
        peak.set(d, Math.max(peak.get(d) ?? 0, active.get(d)!));
        total += delta;
        peakTotal = Math.max(peakTotal, total);
      },
    });
    for (const d of ['busy-a.test', 'busy-b.test']) dns.add(d, { MX: [{ exchange: 'mx.busy.test', priority: 10 }] });
    dns.add('mx.busy.test', { A: ['127.0.0.1'] });
    const r = runner({ port: mx.port, perDomainConcurrency: 2, concurrency: 10 });
    try {
      const done = results(r, 12, (e) => e.type === 'result' && e.rcpt.includes('@busy-'));
      for (let i = 0; i < 6; i++) {
        enqueue(`u${i}@busy-a.test`);
        enqueue(`u${i}@busy-b.test`);
      }
      const res = await done;
      expect(res.every((e) => e.type === 'result' && e.outcome === 'sent')).toBe(true);
      expect(peak.get('busy-a.test')).toBe(2);
      expect(peak.get('busy-b.test')).toBe(2);
      expect(peakTotal).toBeGreaterThan(2);
    } finally {
      await r.close();
      await mx.close();
    }
  });
});

describe('retries', () => {
  it('waits longer before each retry, following retryDelaysMs', async () => {
    const mx = await remoteMx('127.0.0.1', { onRcpt: (rcpt) => (rcpt.endsWith('@grow.test') ? 451 : null) });
    dns.add('grow.test', { MX: [{ exchange: 'mx.grow.test', priority: 10 }] });
    dns.add('mx.grow.test', { A: ['127.0.0.1'] });
    const delays = [100, 250, 500];
    const r = runner({ port: mx.port, retryDelaysMs: delays, maxAgeMs: 60_000, delayNoticeAfterMs: 60_000 });
    try {
      const attempts = results(r, 4, (e) => e.type === 'result' && e.rcpt === 'u@grow.test');
      enqueue('u@grow.test');
      const res = await attempts;
      expect(res.map((e) => (e.type === 'result' ? [e.outcome, e.attempts] : null))).toEqual([
        ['deferred', 1],
        ['deferred', 2],
        ['deferred', 3],
        ['deferred', 4],
      ]);
      const gaps = res.slice(1).map((e, i) => e.at - res[i].at);
      gaps.forEach((g, i) => expect(g).toBeGreaterThanOrEqual(delays[i] - 5));
    } finally {
      await r.close();
      await mx.close();
    }
  });

  it('by default retries with non-decreasing delays until the message is 5 days old', () => {
    expect(DEFAULT_OUTBOUND.maxAgeMs).toBe(5 * 86_400_000);
    const d = DEFAULT_OUTBOUND.retryDelaysMs;
    for (let i = 1; i < d.length; i++) expect(d[i]).toBeGreaterThanOrEqual(d[i - 1]);
    expect(d[0]).toBeLessThanOrEqual(15 * 60_000);
    // Attempts over 5 days: enough to ride out a long outage, few enough not to hammer anyone.
    let at = 0;
    let n = 1;
    while (at + d[Math.min(n - 1, d.length - 1)] <= DEFAULT_OUTBOUND.maxAgeMs) at += d[Math.min(n++ - 1, d.length - 1)];
    expect(n).toBeGreaterThan(10);
    expect(n).toBeLessThan(100);
  });
});

describe('MTA-STS cache', () => {
  it('fetches a policy once per id, and after a restart still enforces the stored policy when DNS and HTTPS are tampered with', async () => {
    const mx = await remoteMx('127.0.0.1');
    dns.add('cached.test', { MX: [{ exchange: 'localhost', priority: 10 }] });
    dns.add('localhost', { A: ['127.0.0.1'] });
    dns.add('_mta-sts.cached.test', { TXT: ['v=STSv1; id=one'] });
    let fetches = 0;
    const fetcher = async () => {
      fetches++;
      return 'version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 604800\n';
    };
    const r1 = runner({ port: mx.port, mtaStsFetch: fetcher });
    try {
      for (const n of [1, 2]) {
        const sent = waitEvent(r1, (e) => e.type === 'result' && e.rcpt === `u${n}@cached.test`);
        enqueue(`u${n}@cached.test`);
        expect(await sent).toMatchObject({ outcome: 'sent' });
      }
      expect(fetches).toBe(1);
      dns.set('_mta-sts.cached.test', { TXT: ['v=STSv1; id=two'] });
      const sent = waitEvent(r1, (e) => e.type === 'result' && e.rcpt === 'u3@cached.test');
      enqueue('u3@cached.test');
      expect(await sent).toMatchObject({ outcome: 'sent' });
      expect(fetches).toBe(2);
      expect(mx.got.every((g) => g.secure)).toBe(true);
    } finally {
      await r1.close();
    }
    // An attacker now removes the TXT record, blocks the policy host and points MX elsewhere.
    dns.remove('_mta-sts.cached.test');
    dns.set('cached.test', { MX: [{ exchange: 'mx.evil.test', priority: 10 }] });
    dns.add('mx.evil.test', { A: ['127.0.0.1'] });
    const r2 = runner({ port: mx.port, mtaStsFetch: async () => null });
    try {
      const res = waitEvent(r2, (e) => e.type === 'result' && e.rcpt === 'u4@cached.test');
      enqueue('u4@cached.test', 'marker-evil');
      expect(await res).toMatchObject({ outcome: 'deferred', response: expect.stringContaining('MTA-STS') });
      expect(mx.got.some((g) => g.rcpts.includes('u4@cached.test'))).toBe(false);
    } finally {
      await r2.close();
      await mx.close();
    }
  });
});

describe('MTA-STS over HTTPS', () => {
  it('fetches the policy from https://mta-sts.<domain> with a validated certificate and enforces it', async () => {
    const sts = await createSelfSignedCertificate({ hostname: 'mta-sts.real.test' });
    const hosts: string[] = [];
    const web = https.createServer({ key: sts.keyPem, cert: sts.certPem }, (req, res) => {
      hosts.push(`${req.headers.host} ${req.url}`);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 86400\n');
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    const mx = await remoteMx('127.0.0.1');
    dns.add('real.test', { MX: [{ exchange: 'localhost', priority: 10 }] });
    dns.add('_mta-sts.real.test', { TXT: ['v=STSv1; id=real1'] });
    dns.add('mta-sts.real.test', { A: ['127.0.0.1'] });
    dns.add('localhost', { A: ['127.0.0.1'] });
    const r = startQueueRunner({
      store,
      log: silentLogger,
      hostname: HOST,
      resolver: dns.resolver,
      outbound: { port: mx.port, families: [4], mtaStsPort: (web.address() as AddressInfo).port, ca: [testTls().cert, sts.certPem] },
    });
    try {
      const sent = waitEvent(r, (e) => e.type === 'result' && e.rcpt === 'u@real.test');
      enqueue('u@real.test');
      expect(await sent).toMatchObject({ outcome: 'sent' });
      expect(hosts).toEqual([`mta-sts.real.test:${(web.address() as AddressInfo).port} /.well-known/mta-sts.txt`]);
      expect(mx.got.find((g) => g.rcpts.includes('u@real.test'))?.secure).toBe(true);
      // Enforced: an MX the policy does not name is not used.
      dns.set('real.test', { MX: [{ exchange: 'mx.unlisted.test', priority: 10 }] });
      dns.add('mx.unlisted.test', { A: ['127.0.0.1'] });
      const refused = waitEvent(r, (e) => e.type === 'result' && e.rcpt === 'v@real.test');
      enqueue('v@real.test');
      expect(await refused).toMatchObject({ outcome: 'deferred', response: expect.stringContaining('MTA-STS') });
    } finally {
      await r.close();
      await mx.close();
      await new Promise<void>((res) => web.close(() => res()));
    }
  });
});

describe('opportunistic TLS', () => {
  it('uses STARTTLS when offered, even with a certificate nobody vouches for, and plaintext when not offered', async () => {
    const tlsMx = await remoteMx('127.0.0.1');
    const plainMx = await remoteMx('127.0.0.1', { noTls: true });
    dns.add('tls-yes.test', { MX: [{ exchange: 'mx.tls.test', priority: 10 }] });
    dns.add('mx.tls.test', { A: ['127.0.0.1'] });
    // No extra CA: the test certificate is untrusted, which only MTA-STS (or DANE) would make fatal.
    const untrusted = { store, log: silentLogger, hostname: HOST, resolver: dns.resolver };
    // One runner at a time: two on one queue would race for the same recipients.
    const r1 = startQueueRunner({ ...untrusted, outbound: { port: tlsMx.port, families: [4] } });
    let r2: QueueRunner | undefined;
    try {
      const a = waitEvent(r1, (e) => e.type === 'result' && e.rcpt === 'u@tls-yes.test');
      queueFor(store).enqueue({ accountId: aliceId, mailFrom: 'alice@example.test', raw: sampleMessage() }, [{ rcpt: 'u@tls-yes.test' }]);
      expect(await a).toMatchObject({ outcome: 'sent' });
      await r1.close();
      r2 = startQueueRunner({ ...untrusted, outbound: { port: plainMx.port, families: [4] } });
      const b = waitEvent(r2, (e) => e.type === 'result' && e.rcpt === 'v@tls-yes.test');
      queueFor(store).enqueue({ accountId: aliceId, mailFrom: 'alice@example.test', raw: sampleMessage() }, [{ rcpt: 'v@tls-yes.test' }]);
      expect(await b).toMatchObject({ outcome: 'sent' });
      // (Recipients still deferred by earlier tests may reach these servers too: look at ours only.)
      const ours = (mx: Mx) => mx.got.filter((g) => g.rcpts.some((r) => r.endsWith('@tls-yes.test')));
      expect(ours(tlsMx)).toEqual([expect.objectContaining({ rcpts: ['u@tls-yes.test'], secure: true })]);
      expect(ours(plainMx)).toEqual([expect.objectContaining({ rcpts: ['v@tls-yes.test'], secure: false })]);
    } finally {
      await r1.close();
      await r2?.close();
      await tlsMx.close();
      await plainMx.close();
    }
  });
});

describe('address families', () => {
  it('delivers over IPv6 first, and falls back to IPv4 when the IPv6 address does not answer', async () => {
    // The same port on both families, so only the order decides which one gets the mail.
    const v6 = await remoteMx('::1');
    const v4 = await remoteMx('127.0.0.1', { port: v6.port });
    dns.add('dual.test', { MX: [{ exchange: 'mx.dual.test', priority: 10 }] });
    dns.add('mx.dual.test', { AAAA: ['::1'], A: ['127.0.0.1'] });
    const r = runner({ port: v6.port, families: [6, 4] });
    try {
      const first = waitEvent(r, (e) => e.type === 'result' && e.rcpt === 'u1@dual.test');
      enqueue('u1@dual.test');
      expect(await first).toMatchObject({ outcome: 'sent' });
      expect(v6.got.map((g) => g.remote)).toEqual(['::1']);
      expect(v4.got).toEqual([]);
      await v6.close();
      const second = waitEvent(r, (e) => e.type === 'result' && e.rcpt === 'u2@dual.test');
      enqueue('u2@dual.test');
      expect(await second).toMatchObject({ outcome: 'sent' });
      expect(v4.got.map((g) => g.remote.replace(/^::ffff:/, ''))).toEqual(['127.0.0.1']);
    } finally {
      await r.close();
      await v4.close();
    }
  });
});

describe('a node that is not the primary (issue 19: fenced or standing by)', () => {
  it('starts no delivery while its writes are refused, so nothing leaves twice, and delivers once they are allowed', async () => {
    const mx = await remoteMx('127.0.0.1');
    dns.add('fenced.test', { MX: [{ exchange: 'mx.fenced.test', priority: 10 }] });
    dns.add('mx.fenced.test', { A: ['127.0.0.1'] });
    enqueue('u@fenced.test');
    let refused: string | null = 'this node lost the primary role (epoch 1, the replica holds epoch 2); try again later';
    const ungate = setWriteGate(t.dataDir, () => refused);
    const r = runner({ port: mx.port });
    try {
      // kick runs the pump at once; with writes refused it starts nothing, so idle() has nothing to wait for.
      r.kick();
      await r.idle();
      expect(mx.got).toEqual([]);
      const done = results(r, 1, (e) => e.type === 'result' && e.rcpt === 'u@fenced.test');
      refused = null;
      r.kick();
      expect((await done)[0]).toMatchObject({ outcome: 'sent' });
      expect(mx.got.map((g) => g.rcpts)).toEqual([['u@fenced.test']]);
    } finally {
      ungate();
      await r.close();
      await mx.close();
    }
  });
});
