/**
 * Shortcuts taken per connection and per message on the MX (issue 20), each
 * checked for the answer it must still give, through a real client:
 * - session ids from a pool of random bytes: RFC 5321 §4.4, the Received
 *   field's "id" clause names the transaction; ours also ends the 250 reply
 *   to DATA. Every connection gets its own, in smtp-server's shape.
 * - forged verdicts found by one scan of the header before it is split into
 *   fields: RFC 8601 §5, a border MTA removes Authentication-Results claiming
 *   its own authserv-id (and we our X-Haven-Spam); the scan must never miss
 *   one the full check would remove, and mail without any is stored as sent.
 * - the Received field's date from tables made once: RFC 5322 §3.3.
 * - replies to pipelined commands gathered into one write: RFC 2920 §3.2,
 *   every command answered, in order, none held back; swaks pipelining end
 *   to end.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../node/store/index.js';
import { sessionId } from '../../node/smtp/server.js';
import { withoutForgedVerdicts } from '../../node/smtp/inbound.js';
import { rfc5322Date, withoutFields } from '../../node/smtp/headers.js';
import { rng } from '../helpers/rng.js';
import { sampleMessage } from '../helpers/store.js';
import { client, startMxFixture, type MxFixture } from './harness.js';

let f: MxFixture;
let store: Store;
let mx: MxFixture['mx'];

beforeAll(async () => {
  f = await startMxFixture({}, (dns) => dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] }), { keyMode: 'managed' });
  ({ store, mx } = f);
});

afterAll(() => f?.close());

/** Every message in alice's INBOX, as stored. */
async function inbox(): Promise<string[]> {
  const lease = await store.openMailbox(store.directory.getAccount('alice@example.test')!.id);
  try {
    const f = lease.mailbox.folders.require('INBOX');
    return lease.mailbox.messages.list(f.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString('latin1'));
  } finally {
    lease.release();
  }
}

async function send(raw: Buffer): Promise<string> {
  const info = await client(mx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['alice@example.test'] }, raw });
  return info.response;
}

describe('RFC 5321 §4.4 session ids', () => {
  it('are 16 base-32 characters and never repeat, across refills of the pool', () => {
    const ids = Array.from({ length: 2000 }, () => sessionId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-v]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('each connection names its message with its own id, in the 250 reply and the Received field', async () => {
    const replies: string[] = [];
    for (const marker of ['id-one', 'id-two', 'id-three']) replies.push(await send(sampleMessage({ from: 'someone@sender.test', subject: marker, body: marker })));
    const ids = replies.map((r) => /queued as ([0-9a-v]{16})\b/.exec(r)?.[1]);
    for (const id of ids) expect(id).toBeDefined();
    expect(new Set(ids).size).toBe(3);
    const stored = await inbox();
    for (const [i, marker] of ['id-one', 'id-two', 'id-three'].entries()) {
      const m = stored.find((x) => x.includes(marker))!;
      expect(m).toMatch(new RegExp(`^Received: from [^\\r]*\\r\\n\\tby mx\\.haven\\.test \\(Haven\\) with E?SMTPS?( \\([^)]*\\))? id ${ids[i]}\\b`));
    }
  });
});

describe('RFC 8601 §5 forged verdicts, scanned before they are parsed', () => {
  /** The check without the scan in front: what withoutForgedVerdicts must always equal. */
  const reference = (raw: Buffer) =>
    withoutFields(raw, (name, value) => name === 'x-haven-spam' || (name === 'authentication-results' && value.split(';')[0].trim().split(/\s+/)[0].toLowerCase() === 'mx.haven.test'));

  it('removes exactly what the full check removes, for names in any case with any blank around them', () => {
    const next = rng(20);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
    const blanks = ['', ' ', '\t', '\xa0', '\v', '\f', ' \t'];
    const names = ['Authentication-Results', 'authentication-results', 'AUTHENTICATION-RESULTS', 'X-Haven-Spam', 'x-haven-spam', 'X-HAVEN-SPAM', 'Subject', 'Received', 'X-Authentication-Results', 'Authentication-Results-Old'];
    const values = ['mx.haven.test; dmarc=pass', 'MX.Haven.Test; spf=pass', 'other.example; spf=pass', 'yes; score=99', 'hello'];
    let removed = 0;
    for (let i = 0; i < 3000; i++) {
      const lines: string[] = [];
      for (let n = 1 + Math.floor(next() * 5); n > 0; n--) {
        lines.push(`${pick(blanks)}${pick(names)}${pick(blanks)}:${pick(blanks)}${pick(values)}`);
        if (next() < 0.2) lines.push(` ${pick(values)}`); // a folded continuation
      }
      if (lines[0].startsWith(' ') || lines[0].startsWith('\t')) lines[0] = lines[0].trimStart(); // the MX refuses those (startsWithWhitespace)
      const raw = Buffer.from(`${lines.join('\r\n')}\r\n\r\nbody\r\n`, 'latin1');
      const want = reference(raw);
      if (want !== raw) removed++;
      expect(withoutForgedVerdicts(raw, 'mx.haven.test').equals(want), JSON.stringify(raw.toString('latin1'))).toBe(true);
    }
    // The inputs exercised both outcomes.
    expect(removed).toBeGreaterThan(500);
    expect(removed).toBeLessThan(2900);
  });

  it('returns the very same bytes when the header names neither field', () => {
    const raw = sampleMessage({ from: 'someone@sender.test', subject: 'Authentication-Results: in a subject only', body: 'x-haven-spam: in the body' });
    expect(withoutForgedVerdicts(raw, 'mx.haven.test')).toBe(raw);
  });

  it('a message without verdict fields arrives byte for byte after our own fields; a forged one loses it', async () => {
    const plain = sampleMessage({ from: 'someone@sender.test', subject: 'plain one', body: 'marker-plain' });
    await send(plain);
    const forged = Buffer.concat([Buffer.from('authentication-results\t: mx.haven.test; dmarc=pass header.from=bank.test\r\n', 'latin1'), sampleMessage({ from: 'someone@sender.test', body: 'marker-forged' })]);
    await send(forged);
    const stored = await inbox();
    const p = stored.find((x) => x.includes('marker-plain'))!;
    expect(p.endsWith(plain.toString('latin1'))).toBe(true);
    const f = stored.find((x) => x.includes('marker-forged'))!;
    expect(f).not.toContain('bank.test');
    expect(f.match(/^authentication-results/gim)).toHaveLength(1); // ours
  });
});

describe('RFC 5322 §3.3 the date in our Received field', () => {
  it('is day-name, day month year hh:mm:ss +0000, in UTC', () => {
    expect(rfc5322Date(new Date(Date.UTC(2026, 0, 5, 3, 4, 5)))).toBe('Mon, 5 Jan 2026 03:04:05 +0000');
    expect(rfc5322Date(new Date(Date.UTC(2024, 11, 31, 23, 59, 59)))).toBe('Tue, 31 Dec 2024 23:59:59 +0000');
    // Any instant: the fields of toUTCString (RFC 7231's IMF-fixdate), the day without its leading zero.
    const next = rng(5322);
    for (let i = 0; i < 500; i++) {
      const d = new Date(Math.floor(next() * 4102444800000));
      const [, wd, day, mon, year, time] = /^(\w{3}), (\d{2}) (\w{3}) (\d{4}) (\d{2}:\d{2}:\d{2}) GMT$/.exec(d.toUTCString())!;
      expect(rfc5322Date(d)).toBe(`${wd}, ${Number(day)} ${mon} ${year} ${time} +0000`);
    }
  });
});

describe('RFC 2920 §3.2 replies to pipelined commands', () => {
  /** A raw client that keeps every chunk the server's writes arrived in (whether they were gathered is not visible from here: client and MX share this process's event loop). */
  async function rawClient() {
    const sock = net.connect(mx.port, '127.0.0.1');
    const chunks: string[] = [];
    let waiting: (() => void) | null = null;
    sock.on('data', (d) => {
      chunks.push(d.toString('latin1'));
      waiting?.();
    });
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const text = () => chunks.join('');
    /** Waits until the whole conversation so far holds `n` final reply lines. */
    const until = async (n: number) => {
      while ((text().match(/^\d{3} [^\r\n]*\r\n/gm) ?? []).length < n) await new Promise<void>((r) => (waiting = r));
    };
    return { sock, chunks, text, until };
  }

  it('answers MAIL, RCPT, RCPT and DATA sent in one packet, each of them, in order, and holds nothing back', async () => {
    const c = await rawClient();
    await c.until(1); // 220
    c.sock.write('EHLO client.remote.test\r\n');
    await c.until(2);
    const before = c.chunks.length;
    c.sock.write('MAIL FROM:<someone@sender.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n');
    await c.until(6);
    const batch = c.chunks.slice(before).join('');
    expect(batch).toMatch(/^250 [^\r]*\r\n250 [^\r]*\r\n550 5\.1\.1 [^\r]*nobody@example\.test[^\r]*\r\n354 [^\r]*\r\n$/);
    c.sock.write(Buffer.concat([sampleMessage({ from: 'someone@sender.test', subject: 'pipelined', body: 'marker-pipelined' }), Buffer.from('.\r\nQUIT\r\n')]));
    await c.until(8);
    expect(c.text()).toMatch(/\r\n250 [^\r]*queued as [0-9a-v]{16}\r\n221 [^\r]*\r\n$/);
    c.sock.destroy();
    expect((await inbox()).some((m) => m.includes('marker-pipelined'))).toBe(true);
  });

  it('swaks, pipelining, delivers through the MX', async () => {
    // The MX runs in this process: swaks must not block its event loop (no spawnSync).
    const args = ['--server', '127.0.0.1', '--port', String(mx.port), '--pipeline', '--from', 'someone@sender.test', '--to', 'alice@example.test', '--header', 'Subject: marker-swaks-pipelined'];
    const out = await new Promise<string>((resolve, reject) =>
      execFile('swaks', args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}${stderr}`)) : resolve(stdout))),
    );
    // swaks sent MAIL, RCPT and DATA together (its transcript shows them before any reply).
    expect(out).toMatch(/ -> MAIL FROM:<someone@sender\.test>\r?\n -> RCPT TO:<alice@example\.test>\r?\n -> DATA\r?\n<- {2}250 /);
    expect(out).toMatch(/<- {2}250 [^\n]*queued as/);
    expect((await inbox()).some((m) => m.includes('marker-swaks-pipelined'))).toBe(true);
  });
});
