/**
 * Outbound mail leaves from outbound.sourceAddresses (issue 19), against the
 * outbound tests' independent SMTP sink on loopback, which records the
 * address each connection came from. Receivers judge the connecting address:
 * the EHLO name is the mail host (RFC 5321 §4.1.1.1), SPF checks the HELO
 * identity against that address (RFC 7208 §2.3), and FCrDNS checks its PTR;
 * so the address must be the mail host's. Linux routes all of 127/8 to lo,
 * which lets 127.0.0.2 stand in for a Floating IP; 192.0.2.1 (TEST-NET-1,
 * RFC 5737) is on no interface and stands in for an address the machine
 * does not have, which must cost nothing but the source.
 */
import { networkInterfaces } from 'node:os';
import { connect, type AddressInfo } from 'node:net';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueFor, startQueueRunner, type OutboundOptions, type QueueRunner } from '../../node/smtp/index.js';
import { silentLogger, type Logger } from '../../node/util/log.js';
import { metrics } from '../../node/util/metrics.js';
import { SourceAddresses } from '../../node/smtp/outbound/source.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, testTls, type TestStore } from '../helpers/store.js';
import { HOST, startRemoteMx, waitEvent, type RemoteMx } from './harness.js';

const PW = 'correct horse battery';
let t: TestStore;
let dns: TestDns;
let remote: RemoteMx;
let aliceId: string;
const runners: QueueRunner[] = [];

beforeAll(async () => {
  t = makeTestStore();
  dns = await startTestDns();
  aliceId = (await addAccount(t.store, 'alice@example.test', PW)).account.id;
  remote = await startRemoteMx(dns);
  // The sink listens on 127.0.0.1 only: a connection bound to 127.0.0.2 reaches it over lo.
  dns.add('v4.test', { A: ['127.0.0.1'] });
});

afterAll(async () => {
  for (const r of runners) await r.close();
  await remote?.close();
  await dns?.close();
  t?.cleanup();
});

function runner(outbound: Partial<OutboundOptions>, log: Logger = silentLogger): QueueRunner {
  const r = startQueueRunner({ store: t.store, log, hostname: HOST, resolver: dns.resolver, outbound: { port: remote.port, families: [4], retryDelaysMs: [60_000], ca: testTls().cert, ...outbound } });
  runners.push(r);
  return r;
}

/** Queues one message to `rcpt` and waits for the runner's verdict. */
async function send(r: QueueRunner, rcpt: string, marker: string) {
  const done = waitEvent(r, (e) => e.type === 'result' && e.rcpt === rcpt);
  queueFor(t.store).enqueue({ accountId: aliceId, mailFrom: 'alice@example.test', raw: sampleMessage({ from: 'alice@example.test', to: rcpt, body: marker }) }, [{ rcpt }]);
  return done;
}

const seenFrom = (marker: string) => remote.received.find((m) => m.raw.includes(marker))?.remoteAddress.replace(/^::ffff:/, '');

describe('outbound.sourceAddresses', () => {
  it('connects from the configured IPv4 address, and the receiver sees it as the client', async () => {
    const r = runner({ sourceAddresses: ['127.0.0.2', '::1'] });
    expect(await send(r, 'a@v4.test', 'marker-src-v4')).toMatchObject({ outcome: 'sent' });
    expect(seenFrom('marker-src-v4')).toBe('127.0.0.2');
    await r.close();
  });

  it('without the setting the kernel picks the source (the contrast the setting is for)', async () => {
    const r = runner({});
    expect(await send(r, 'b@v4.test', 'marker-src-default')).toMatchObject({ outcome: 'sent' });
    expect(seenFrom('marker-src-default')).toBe('127.0.0.1');
    await r.close();
  });

  it('an address this machine does not have falls back to the default source, still delivers, and is logged once and counted each time', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const before = metrics.outboundSourceFallbacks.get({ family: 'ipv4' });
    const r = runner({ sourceAddresses: ['192.0.2.1'] }, log);
    expect(await send(r, 'c@v4.test', 'marker-src-missing-1')).toMatchObject({ outcome: 'sent' });
    expect(await send(r, 'd@v4.test', 'marker-src-missing-2')).toMatchObject({ outcome: 'sent' });
    expect(seenFrom('marker-src-missing-1')).toBe('127.0.0.1');
    expect(seenFrom('marker-src-missing-2')).toBe('127.0.0.1');
    expect(metrics.outboundSourceFallbacks.get({ family: 'ipv4' }) - before).toBe(2);
    const warnings = lines.map((l) => JSON.parse(l) as { msg: string; sourceAddress?: string; error?: string }).filter((l) => l.sourceAddress === '192.0.2.1');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].msg).toContain('sending from the default source instead');
    expect(warnings[0].error).toContain('EADDRNOTAVAIL');
    await r.close();
  });

  it('a promoted standby sends from its own address until its Floating IPs have moved, then from them', async () => {
    const r = runner({ sourceAddresses: ['127.0.0.2'], sourceHeld: false });
    expect(await send(r, 'e@v4.test', 'marker-src-not-held')).toMatchObject({ outcome: 'sent' });
    expect(seenFrom('marker-src-not-held')).toBe('127.0.0.1');
    r.setSourceHeld(true);
    expect(await send(r, 'f@v4.test', 'marker-src-held')).toMatchObject({ outcome: 'sent' });
    expect(seenFrom('marker-src-held')).toBe('127.0.0.2');
    await r.close();
  });

  const hasV6Loopback = Object.values(networkInterfaces()).flat().some((a) => a?.address === '::1');
  it.runIf(hasV6Loopback)('an IPv6 target is reached from the IPv6 source, never the IPv4 one', async () => {
    const got: { remote: string; raw: string }[] = [];
    const sink6 = new SMTPServer({
      logger: false,
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          got.push({ remote: session.remoteAddress, raw: Buffer.concat(chunks).toString() });
          cb();
        });
      },
    });
    await new Promise<void>((res) => sink6.listen(0, '::1', () => res()));
    try {
      dns.add('v6.test', { AAAA: ['::1'] });
      // 127.0.0.2 bound to an IPv6 connection would fail (EINVAL) and fall back: the count must not move.
      const before = metrics.outboundSourceFallbacks.get({ family: 'ipv4' }) + metrics.outboundSourceFallbacks.get({ family: 'ipv6' });
      const r = runner({ sourceAddresses: ['127.0.0.2', '::1'], families: [6, 4], port: (sink6.server.address() as AddressInfo).port });
      expect(await send(r, 'g@v6.test', 'marker-src-v6')).toMatchObject({ outcome: 'sent' });
      expect(got.find((g) => g.raw.includes('marker-src-v6'))?.remote).toBe('::1');
      expect(metrics.outboundSourceFallbacks.get({ family: 'ipv4' }) + metrics.outboundSourceFallbacks.get({ family: 'ipv6' })).toBe(before);
      await r.close();
    } finally {
      await new Promise<void>((res) => sink6.close(() => res()));
    }
  });
});

describe('what the fallback warning says', () => {
  /** The error text a real bind gives (node:net), as nodemailer's describe passes it on. */
  function bindError(host: string, localAddress: string): Promise<string> {
    return new Promise((resolve) => {
      const s = connect({ host, port: 9, localAddress });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(`ESOCKET ${e.message}`));
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
    });
  }

  it('names the family mismatch for EINVAL and the missing interface address for EADDRNOTAVAIL', async () => {
    const seen: string[] = [];
    const log = { ...silentLogger, warn: (_o: unknown, msg: string) => void seen.push(msg) } as unknown as Logger;
    const s = new SourceAddresses(['127.0.0.2'], log);
    // An IPv4 source for an IPv6 peer: bind answers EINVAL (a smarthost name with only AAAA records).
    s.unavailable('127.0.0.2', await bindError('::1', '127.0.0.2'));
    expect(seen[0]).toContain("the host has no address of this source's family");
    // TEST-NET-1 (RFC 5737) is on no interface here: EADDRNOTAVAIL.
    s.unavailable('192.0.2.1', await bindError('127.0.0.1', '192.0.2.1'));
    expect(seen[1]).toContain("not on this machine's interfaces");
  });
});

describe('choosing the source', () => {
  // ::1 is this machine's only IPv6 loopback address, so the delivery above cannot tell a bound ::1 from the
  // kernel's choice: the choice itself is checked here.
  it('takes the source of the target\'s family, the first listed family\'s for a smarthost name, and none while not held', () => {
    const s = new SourceAddresses(['2001:db8::25', '203.0.113.25'], silentLogger);
    expect(s.for('198.51.100.7', [6, 4])).toBe('203.0.113.25');
    expect(s.for('2001:db8:1::7', [6, 4])).toBe('2001:db8::25');
    expect(s.for('relay.example.net', [6, 4])).toBe('2001:db8::25');
    expect(s.for('relay.example.net', [4])).toBe('203.0.113.25');
    const v4only = new SourceAddresses(['203.0.113.25'], silentLogger);
    expect(v4only.for('2001:db8:1::7', [6, 4])).toBeUndefined();
    expect(v4only.for('relay.example.net', [6, 4])).toBe('203.0.113.25');
    s.setHeld(false);
    expect(s.for('198.51.100.7', [4])).toBeUndefined();
    expect(new SourceAddresses([], silentLogger).for('198.51.100.7', [4])).toBeUndefined();
  });
});
