/**
 * SPF, DKIM, DMARC and ARC verification on the worker thread
 * (node/smtp/verify/thread.ts): every DNS question mailauth asks there is
 * answered by the main thread's resolver (here a real DNS server on
 * loopback), with the error codes that decide none/temperror intact; a
 * worker that dies holding messages defers them with a 4xx, loses nothing
 * already acknowledged and is replaced for the next message.
 */
import dgram from 'node:dgram';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolverFor, verifyThread, type Resolver } from '../../node/smtp/index.js';
import { sampleMessage } from '../helpers/store.js';
import { baseDeps, client, folderRaws, MX_PASSWORD, startMx, startMxFixture, type MxFixture } from './harness.js';

let fx: MxFixture;
/** Every question the main thread's resolver was asked, as "TYPE name". */
const asked: string[] = [];
/** Names whose lookups the test holds until it lets them go. */
const held = new Map<string, { arrived: () => void; gate: Promise<void>; release: () => void }>();
let bankKey = '';

const send = (port: number, from: string, raw: Buffer) => client(port).sendMail({ envelope: { from, to: ['alice@example.test'] }, raw });
const inbox = () => folderRaws(fx.store, 'alice@example.test', MX_PASSWORD);

/** Holds lookups of `name` until the returned release is called; `arrived` resolves when the first one is asked. */
function hold(name: string): { arrived: Promise<void>; release: () => void } {
  let arrived!: () => void;
  let release!: () => void;
  const a = new Promise<void>((r) => (arrived = r));
  const gate = new Promise<void>((r) => (release = r));
  held.set(name, { arrived, gate, release });
  return { arrived: a, release: () => (held.delete(name), release()) };
}

beforeAll(async () => {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  bankKey = key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const pub = (key.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
  const resolver: Resolver = async (name, type) => {
    asked.push(`${type} ${name}`);
    const h = held.get(name);
    if (h) {
      h.arrived();
      await h.gate;
    }
    return fx.dns.resolver(name, type);
  };
  fx = await startMxFixture({ resolver }, (dns) => {
    dns.add('bank.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    dns.add('sel._domainkey.bank.test', { TXT: [`v=DKIM1; k=rsa; p=${pub}`] });
    dns.add('_dmarc.bank.test', { TXT: ['v=DMARC1; p=reject'] });
    dns.add('forged.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] });
    dns.add('_dmarc.forged.test', { TXT: ['v=DMARC1; p=reject'] });
    dns.add('held.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    dns.add('_dmarc.held.test', { TXT: ['v=DMARC1; p=none'] });
    dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] });
  });
});

afterAll(async () => {
  for (const h of held.values()) h.release();
  await fx?.close();
  await verifyThread.stop();
});

async function signed(body: string, size = 0): Promise<Buffer> {
  const filler = size > 0 ? `\r\n${'0123456789abcdef'.repeat(4).concat('\r\n').repeat(Math.ceil(size / 66))}` : '';
  const msg = sampleMessage({ from: 'Bank <alerts@bank.test>', body: body + filler });
  const sig = { signingDomain: 'bank.test', selector: 'sel', privateKey: bankKey };
  const r = await dkimSign(msg, { ...sig, signatureData: [{ ...sig, canonicalization: 'relaxed/relaxed' }] });
  expect(r.signatures).toMatch(/^DKIM-Signature: .*d=bank\.test/s);
  return Buffer.concat([Buffer.from(r.signatures), msg]);
}

describe('DNS answers reach the worker from the main thread', () => {
  it('records SPF pass (RFC 7208 §2.6.1) and DKIM pass (RFC 6376 §6.1.3) from lookups the main-thread resolver answered', async () => {
    const before = asked.length;
    await send(fx.mx.port, 'alerts@bank.test', await signed('marker-worker-pass'));
    const m = (await inbox()).find((x) => x.includes('marker-worker-pass'));
    expect(m).toMatch(/spf=pass/);
    expect(m).toMatch(/dkim=pass header\.i=@bank\.test/);
    expect(m).toMatch(/dmarc=pass/);
    // The worker ran mailauth; the TXT lookups it needed were made here, through the injected resolver.
    expect(verifyThread.started).toBeGreaterThan(0);
    expect(asked.slice(before)).toEqual(expect.arrayContaining(['TXT bank.test', 'TXT sel._domainkey.bank.test', 'TXT _dmarc.bank.test']));
  });

  it('hashes the body of a 3 MB message the worker pulls in slices, and DKIM still passes (RFC 6376 §3.7)', async () => {
    await send(fx.mx.port, 'alerts@bank.test', await signed('marker-worker-large', 3 * 1024 * 1024));
    const m = (await inbox()).find((x) => x.includes('marker-worker-large'));
    expect(m).toMatch(/dkim=pass/);
    expect(m!.length).toBeGreaterThan(3 * 1024 * 1024);
  });

  it('refuses a DMARC p=reject domain whose SPF fails and has no DKIM signature with 550 5.7.1 (RFC 7489 §6.6.3, §6.3 p=reject)', async () => {
    await expect(send(fx.mx.port, 'ceo@forged.test', sampleMessage({ from: 'CEO <ceo@forged.test>', body: 'marker-worker-forged' }))).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringMatching(/^550 5\.7\.1 .*DMARC policy of forged\.test/),
    });
    expect((await inbox()).some((m) => m.includes('marker-worker-forged'))).toBe(false);
  });

  it('keeps NXDOMAIN an answer: a sender domain that does not exist gets SPF "none" (RFC 7208 §4.3), not temperror', async () => {
    await send(fx.mx.port, 'someone@nowhere.test', sampleMessage({ from: 'someone@nowhere.test', body: 'marker-worker-nxdomain' }));
    const m = (await inbox()).find((x) => x.includes('marker-worker-nxdomain'));
    expect(m).toMatch(/spf=none/);
    expect(m).not.toMatch(/temperror/);
  });

  it('answers 451 4.4.3 when the DMARC lookup times out (a temporary DNS error, RFC 7208 §4.4 / RFC 7489 §6.6.3), and stores nothing', async () => {
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const silent = resolverFor([`127.0.0.1:${hole.address().port}`], { timeoutMs: 100 });
    // The sender's SPF answers; its DMARC record sits behind a server that never replies (node:dns: ETIMEOUT).
    const resolver: Resolver = (name, type) => (name.startsWith('_dmarc.') ? silent(name, type) : fx.dns.resolver(name, type));
    const mx = await startMx(baseDeps(fx.store, fx.dns, { resolver }));
    try {
      await expect(send(mx.port, 'someone@sender.test', sampleMessage({ from: 'someone@sender.test', body: 'marker-worker-timeout' }))).rejects.toMatchObject({
        responseCode: 451,
        response: expect.stringMatching(/^451 4\.4\.3 .*DMARC policy of sender\.test/),
      });
    } finally {
      await mx.close();
      hole.close();
    }
    expect((await inbox()).some((m) => m.includes('marker-worker-timeout'))).toBe(false);
  });
});

describe('the worker comes and goes with the mail', () => {
  it('exits after a quiet spell (an idle node pays no memory for it) and the next message starts a new one', async () => {
    const idle = verifyThread.idleMs;
    verifyThread.idleMs = 50;
    try {
      await send(fx.mx.port, 'someone@sender.test', sampleMessage({ from: 'someone@sender.test', body: 'marker-before-idle' }));
      await expect.poll(() => verifyThread.running).toBe(false);
    } finally {
      verifyThread.idleMs = idle;
    }
    const started = verifyThread.started;
    await send(fx.mx.port, 'alerts@bank.test', await signed('marker-after-idle'));
    expect(verifyThread.started).toBe(started + 1);
    expect((await inbox()).find((m) => m.includes('marker-after-idle'))).toMatch(/dkim=pass/);
  });
});

describe('the worker dies mid-verification', () => {
  it('answers the messages it held 451 4.3.0, keeps what was acknowledged, and verifies the next message in a new worker', async () => {
    // Acknowledged before the death: it must survive it.
    await send(fx.mx.port, 'someone@sender.test', sampleMessage({ from: 'someone@sender.test', body: 'marker-before-death' }));
    const h = hold('_dmarc.held.test');
    const first = send(fx.mx.port, 'someone@held.test', sampleMessage({ from: 'someone@held.test', body: 'marker-in-flight-1' }));
    const second = send(fx.mx.port, 'someone@held.test', sampleMessage({ from: 'someone@held.test', body: 'marker-in-flight-2' }));
    const outcomes = Promise.allSettled([first, second]);
    await h.arrived;
    // Both messages are inside the worker (the DMARC lookup is shared by the resolver cache, so wait for the second one too).
    await expect.poll(() => verifyThread.inFlight).toBe(2);
    const started = verifyThread.started;
    await verifyThread.stop('killed by the test');
    for (const o of await outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toMatchObject({ responseCode: 451, response: expect.stringMatching(/^451 4\.3\.0 .*interrupted.*try again later/) });
    }
    h.release();

    await send(fx.mx.port, 'alerts@bank.test', await signed('marker-after-death'));
    expect(verifyThread.started).toBe(started + 1);
    const box = await inbox();
    expect(box.find((m) => m.includes('marker-after-death'))).toMatch(/dkim=pass/);
    expect(box.some((m) => m.includes('marker-before-death'))).toBe(true);
    expect(box.some((m) => m.includes('marker-in-flight'))).toBe(false);
  });
});

/** RFC 5322 §2.2.3 allows folding a field over any number of lines; nothing bounds how many. */
const foldedBomb = (marker: string) => Buffer.concat([Buffer.from(`Subject: x\r\n${' y\r\n'.repeat(7_000_000)}`), sampleMessage({ from: 'someone@sender.test', body: marker })]);

describe('a hostile message', () => {
  it('cannot take the node down: seven million folded header lines (which held the main thread for minutes when mailauth ran there) cost only the worker', async () => {
    const raw = foldedBomb('marker-folded');
    const started = verifyThread.started;
    await expect(send(fx.mx.port, 'someone@sender.test', raw)).rejects.toMatchObject({ responseCode: 451, response: expect.stringMatching(/^451 4\.3\.0 /) });
    expect(verifyThread.lastDeath).toBeTruthy();
    // The node answers on, and the next message is verified by a new worker.
    await send(fx.mx.port, 'alerts@bank.test', await signed('marker-after-folded'));
    expect(verifyThread.started).toBe(started + 1);
    const box = await inbox();
    expect(box.find((m) => m.includes('marker-after-folded'))).toMatch(/dkim=pass/);
    expect(box.some((m) => m.includes('marker-folded'))).toBe(false);
  });
});

describe('the watchdog', () => {
  it('replaces a worker whose event loop stops answering, and defers its message with 451 4.3.0', async () => {
    await send(fx.mx.port, 'someone@sender.test', sampleMessage({ from: 'someone@sender.test', body: 'marker-warm' }));
    const wedged = verifyThread.wedgedMs;
    // Parsing the folded header holds the worker's loop for seconds in one go; 200 ms of silence is enough to call it wedged here.
    verifyThread.wedgedMs = 200;
    try {
      await expect(send(fx.mx.port, 'someone@sender.test', foldedBomb('marker-wedged'))).rejects.toMatchObject({ responseCode: 451, response: expect.stringMatching(/^451 4\.3\.0 .*interrupted/) });
      expect(verifyThread.lastDeath).toMatch(/unresponsive/);
    } finally {
      verifyThread.wedgedMs = wedged;
    }
    await send(fx.mx.port, 'someone@sender.test', sampleMessage({ from: 'someone@sender.test', body: 'marker-after-wedged' }));
    expect((await inbox()).some((m) => m.includes('marker-after-wedged'))).toBe(true);
  });
});
