/**
 * The MX's early-talker check, adaptive like Postfix's postscreen.
 *
 * RFC 5321 §3.1: "the SMTP client ... waits for the server's greeting"; §4.3.1:
 * the 220 greeting opens the session and nothing is sent before it. A client
 * that talks first on a first connection is refused (421, §4.2.2's "service
 * not available, closing transmission channel"); a client that waited is
 * remembered and greeted at once next time, until the memory expires;
 * submission (RFC 6409, clients authenticate) never pauses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { GreetPause, smtpSettings, startSmtp, type SmtpServerHandle } from '../../node/smtp/index.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { makeTestStore, type TestStore } from '../helpers/store.js';
import { baseDeps, rawSession } from './harness.js';

let t: TestStore;
let dns: TestDns;
const servers: SmtpServerHandle[] = [];

beforeAll(async () => {
  t = makeTestStore();
  dns = await startTestDns();
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await dns?.close();
  t?.cleanup();
});

async function mx(greetPause: GreetPause, mode: 'mx' | 'submission' = 'mx'): Promise<number> {
  const s = await startSmtp(baseDeps(t.store, dns, { greetPause }), { host: '127.0.0.1', port: 0, implicitTls: false, mode });
  servers.push(s);
  return s.port;
}

/** Connects and sends EHLO before any greeting could have arrived: an early talker. */
async function talkAtOnce(port: number): Promise<string[]> {
  const c = await rawSession(port);
  c.send('EHLO early.test\r\n');
  const first = await c.reply();
  const second = await c.reply();
  c.close();
  return [first, second];
}

describe('early talkers (RFC 5321 §3.1, §4.3.1)', () => {
  it('refuses a client that talks before the greeting on its first connection, and does not remember it', async () => {
    // A long pause so the client's EHLO is certain to land inside it.
    const policy = new GreetPause({ pauseMs: 10_000, pauseLoopback: true });
    const port = await mx(policy);
    const [first, second] = await talkAtOnce(port);
    expect(first).toMatch(/^421 .*talk too soon/);
    expect(second).toBe(''); // and the connection is closed
    expect(policy.size).toBe(0);
    expect(policy.pauseFor('127.0.0.1')).toBe(10_000);
  });

  it('greets a client that waited, and greets its next connection at once', async () => {
    const policy = new GreetPause({ pauseMs: 300, pauseLoopback: true });
    const port = await mx(policy);
    const polite = await rawSession(port);
    expect(await polite.reply()).toMatch(/^220 /);
    expect(await polite.cmd('QUIT')).toMatch(/^221 /);
    polite.close();
    expect(policy.pauseFor('127.0.0.1')).toBe(0);
    // Talking at once is no longer refused: there is no pause to talk into.
    const [greeting, ehlo] = await talkAtOnce(port);
    expect(greeting).toMatch(/^220 /);
    expect(ehlo).toMatch(/^250[- ]/);
  });

  it('forgets a polite client after rememberMs, so it pauses (and is checked) again', async () => {
    let now = 1_000_000;
    const policy = new GreetPause({ pauseMs: 10_000, rememberMs: 60_000, pauseLoopback: true }, () => now);
    policy.waited('127.0.0.1');
    const port = await mx(policy);
    expect((await talkAtOnce(port))[0]).toMatch(/^220 /);
    now += 60_001;
    expect((await talkAtOnce(port))[0]).toMatch(/^421 /);
  });

  it('never pauses loopback by default, nor submission even when asked to', async () => {
    expect((await talkAtOnce(await mx(new GreetPause({ pauseMs: 10_000 }))))[0]).toMatch(/^220 /);
    const sub = await mx(new GreetPause({ pauseMs: 10_000, pauseLoopback: true }), 'submission');
    const [greeting, ehlo] = await talkAtOnce(sub);
    expect(greeting).toMatch(/^220 /);
    expect(ehlo).toMatch(/^250[- ]/);
  });

  it('pauses every connection when the check is on and the memory off, and never when pauseMs is 0', () => {
    const forgetful = new GreetPause({ pauseMs: 50, rememberMs: 0, pauseLoopback: true });
    forgetful.waited('192.0.2.1');
    expect(forgetful.pauseFor('192.0.2.1')).toBe(50);
    expect(new GreetPause({ pauseMs: 0 }).pauseFor('192.0.2.1')).toBe(0);
  });
});

describe('bounded memory', () => {
  it('keeps at most maxRemembered addresses, forgetting the oldest first', () => {
    const p = new GreetPause({ pauseMs: 100, maxRemembered: 2 });
    p.waited('192.0.2.1');
    p.waited('192.0.2.2');
    p.waited('192.0.2.1'); // refreshed: now the newest
    p.waited('192.0.2.3');
    expect(p.size).toBe(2);
    expect(p.pauseFor('192.0.2.2')).toBe(100);
    expect(p.pauseFor('192.0.2.1')).toBe(0);
    expect(p.pauseFor('192.0.2.3')).toBe(0);
  });

  it('drops expired entries as new ones arrive', () => {
    let now = 0;
    const p = new GreetPause({ pauseMs: 100, rememberMs: 10 }, () => now);
    p.waited('192.0.2.1');
    p.waited('192.0.2.2');
    now = 11;
    p.waited('192.0.2.3');
    expect(p.size).toBe(1);
  });
});

it('takes its settings from the config (earlyTalker.*)', () => {
  const s = smtpSettings(testConfig(t.dataDir, { earlyTalker: { pauseMs: 250, rememberSeconds: 3600, maxRemembered: 5, pauseLoopback: true } }));
  expect(s.greetPause).toEqual({ pauseMs: 250, rememberMs: 3_600_000, maxRemembered: 5, pauseLoopback: true });
  expect(smtpSettings(testConfig(t.dataDir)).greetPause).toEqual({ pauseMs: 100, rememberMs: 86_400_000, maxRemembered: 10_000, pauseLoopback: false });
});
