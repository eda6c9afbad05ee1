/**
 * The outbound queue runner against real servers on loopback: MX order and
 * fallback to the next MX, A fallback without MX, null MX, delay and
 * give-up DSNs, MTA-STS (a policy that excludes the MX defers; one that
 * names it forces validated TLS), and relaying through an authenticated
 * smarthost.
 */
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../node/store/index.js';
import { queueFor, startQueueRunner, type QueueRunner } from '../../node/smtp/index.js';
import { silentLogger } from '../../node/util/log.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, testTls, type TestStore } from '../helpers/store.js';
import { folderRaws, HOST, startRemoteMx, waitEvent, type RemoteMx } from './harness.js';

const PW = 'correct horse battery';
let t: TestStore;
let store: Store;
let dns: TestDns;
let remote: RemoteMx;
let runner: QueueRunner;
let aliceId: string;
const policies = new Map<string, string>();

function enqueue(rcpt: string, marker: string): string {
  return queueFor(store).enqueue({ accountId: aliceId, mailFrom: 'alice@example.test', raw: sampleMessage({ from: 'alice@example.test', to: rcpt, body: marker }) }, [{ rcpt }]);
}

beforeAll(async () => {
  t = makeTestStore();
  store = t.store;
  dns = await startTestDns();
  aliceId = (await addAccount(store, 'alice@example.test', PW)).account.id;
  remote = await startRemoteMx(dns);
  dns.add('mx.remote.test', { A: ['127.0.0.1'] });
  runner = startQueueRunner({
    store,
    log: silentLogger,
    hostname: HOST,
    resolver: dns.resolver,
    outbound: {
      port: remote.port,
      families: [4],
      retryDelaysMs: [150],
      maxAgeMs: 1_000,
      delayNoticeAfterMs: 0,
      ca: testTls().cert,
      mtaStsFetch: async (domain) => policies.get(domain) ?? null,
    },
  });
});

afterAll(async () => {
  await runner?.close();
  await remote?.close();
  await dns?.close();
  t?.cleanup();
});

describe('routing', () => {
  it('tries MX hosts in preference order and moves on when one is unreachable', async () => {
    dns.add('order.test', {
      MX: [
        { exchange: 'mx2.order.test', priority: 20 },
        { exchange: 'mx1.order.test', priority: 10 },
      ],
    });
    dns.add('mx1.order.test', { A: ['127.0.0.2'] }); // nothing listens there
    dns.add('mx2.order.test', { A: ['127.0.0.1'] });
    const sent = waitEvent(runner, (e) => e.type === 'result' && e.rcpt === 'u@order.test');
    enqueue('u@order.test', 'marker-order');
    expect(await sent).toMatchObject({ outcome: 'sent' });
    const q = dns.queries;
    expect(q.indexOf('mx1.order.test')).toBeGreaterThan(-1);
    expect(q.indexOf('mx1.order.test')).toBeLessThan(q.indexOf('mx2.order.test'));
    expect(remote.received.some((m) => m.raw.includes('marker-order'))).toBe(true);
  });

  it('falls back to the A record when a domain has no MX', async () => {
    dns.add('amx.test', { A: ['127.0.0.1'] });
    const sent = waitEvent(runner, (e) => e.type === 'result' && e.rcpt === 'u@amx.test');
    enqueue('u@amx.test', 'marker-amx');
    expect(await sent).toMatchObject({ outcome: 'sent' });
  });

  it('fails at once for a null MX domain (RFC 7505), with a failure notice', async () => {
    dns.add('nullmx.test', { MX: [{ exchange: '', priority: 0 }] });
    const dsn = waitEvent(runner, (e) => e.type === 'dsn');
    const res = waitEvent(runner, (e) => e.type === 'result' && e.rcpt === 'u@nullmx.test');
    enqueue('u@nullmx.test', 'marker-nullmx');
    expect(await res).toMatchObject({ outcome: 'failed', response: expect.stringContaining('null MX') });
    await dsn;
    const raws = await folderRaws(store, 'alice@example.test', PW);
    expect(raws.filter((r) => r.includes('Final-Recipient: rfc822; u@nullmx.test') && r.includes('Status: 5.1.2'))).toHaveLength(1);
  });
});

describe('retries', () => {
  it('sends one delay notice while retrying and one failure notice when it gives up', async () => {
    dns.add('slow.test', { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
    remote.onRcpt = (r) => (r === 'u@slow.test' ? { code: 451, message: 'greylisted, come back later' } : null);
    const failed = waitEvent(runner, (e) => e.type === 'dsn' && e.action === 'failed');
    const id = enqueue('u@slow.test', 'marker-slow');
    await failed;
    remote.onRcpt = () => null;
    const raws = (await folderRaws(store, 'alice@example.test', PW)).filter((r) => r.includes('Final-Recipient: rfc822; u@slow.test'));
    expect(raws.filter((r) => r.includes('Action: delayed'))).toHaveLength(1);
    expect(raws.filter((r) => /Action: failed\r\nStatus: 4\.\d\.\d\r\n[\s\S]*Diagnostic-Code: smtp; 451 .*greylisted.*gave up/.test(r))).toHaveLength(1);
    expect(queueFor(store).message(id)).toBeNull();
  });
});

describe('MTA-STS', () => {
  it('defers when the enforced policy does not list the MX', async () => {
    dns.add('sts.test', { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
    dns.add('_mta-sts.sts.test', { TXT: ['v=STSv1; id=20261128'] });
    policies.set('sts.test', 'version: STSv1\nmode: enforce\nmx: mx.other.test\nmax_age: 86400\n');
    const res = waitEvent(runner, (e) => e.type === 'result' && e.rcpt === 'u@sts.test');
    enqueue('u@sts.test', 'marker-sts-refused');
    expect(await res).toMatchObject({ outcome: 'deferred', response: expect.stringContaining('MTA-STS') });
    expect(remote.received.some((m) => m.raw.includes('marker-sts-refused'))).toBe(false);
  });

  it('delivers over validated TLS when the policy lists the MX', async () => {
    dns.add('sts2.test', { MX: [{ exchange: 'localhost', priority: 10 }] });
    dns.add('localhost', { A: ['127.0.0.1'] });
    dns.add('_mta-sts.sts2.test', { TXT: ['v=STSv1; id=1'] });
    policies.set('sts2.test', 'version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 86400\n');
    const res = waitEvent(runner, (e) => e.type === 'result' && e.rcpt === 'u@sts2.test');
    enqueue('u@sts2.test', 'marker-sts-ok');
    expect(await res).toMatchObject({ outcome: 'sent' });
    const got = remote.received.find((m) => m.raw.includes('marker-sts-ok'));
    expect(got?.secure).toBe(true);
  });
});

describe('smarthost', () => {
  it('relays everything through an authenticated smarthost over TLS', async () => {
    const t2 = makeTestStore();
    const id = (await addAccount(t2.store, 'alice@example.test', PW)).account.id;
    const { key, cert } = testTls();
    const got: { user: string; rcpts: string[]; secure: boolean }[] = [];
    const relay = new SMTPServer({
      secure: true,
      key,
      cert,
      logger: false,
      authMethods: ['PLAIN'],
      onAuth(auth, _s, cb) {
        cb(null, auth.username === 'relayuser' && auth.password === 'relaypass' ? { user: auth.username } : undefined);
      },
      onData(stream, session, cb) {
        stream.resume();
        stream.on('end', () => {
          got.push({ user: session.user as string, rcpts: session.envelope.rcptTo.map((r) => r.address), secure: session.secure });
          cb();
        });
      },
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const port = (relay.server.address() as AddressInfo).port;
    const r2 = startQueueRunner({
      store: t2.store,
      log: silentLogger,
      hostname: HOST,
      resolver: dns.resolver,
      outbound: { smarthost: { host: 'localhost', port, secure: true, auth: { user: 'relayuser', pass: 'relaypass' }, ca: cert } },
    });
    try {
      const sent = waitEvent(r2, (e) => e.type === 'result');
      queueFor(t2.store).enqueue({ accountId: id, mailFrom: 'alice@example.test', raw: sampleMessage() }, [{ rcpt: 'x@nowhere.test' }, { rcpt: 'y@elsewhere.test' }]);
      expect(await sent).toMatchObject({ outcome: 'sent' });
      await r2.idle();
      expect(got).toEqual([{ user: 'relayuser', rcpts: ['x@nowhere.test', 'y@elsewhere.test'], secure: true }]);
    } finally {
      await r2.close();
      await new Promise<void>((r) => relay.close(() => r()));
      t2.cleanup();
    }
  });
});
