/**
 * Recurrence attacks against the whole node (issue 21, items 2–4), each
 * reproduced against a node in a child process while a second client keeps
 * checking that the node still serves: an IMAP login and a /health request
 * must each answer within a second (or, on a runner loaded by other suites,
 * four times what they took just before any attack) during and after every
 * attack, and the node's RSS stays under RSS_BOUND_MB.
 *
 * - A rule that never yields a date (FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30):
 *   refused at PUT with 403 CALDAV:valid-calendar-data (RFC 4791 §5.3.2.1),
 *   by PUT and when it arrives as an iMIP invitation (RFC 6047), never stored.
 * - A VTIMEZONE observance from 1601 with FREQ=SECONDLY (327 bytes): refused
 *   with valid-calendar-data, memory flat.
 * - A dense unbounded rule (FREQ=SECONDLY, no end): refused with
 *   CALDAV:max-instances (RFC 4791 §5.3.2.1).
 * - An open-ended calendar-query (start, no end: RFC 4791 §9.9) and a query
 *   for the year 9000 over a yearly event with a VTIMEZONE: answered at once.
 * - The same pathological rules stored before the limits existed (seeded
 *   through the store): queries leave them out and answer at once.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Child } from '../helpers/child.js';
import { NODE_CHILD_ACCOUNTS, startNodeChild } from '../helpers/node-child.js';

/** The node idles around 220 MB here and peaked at 240 MB under these attacks; a SECONDLY time zone from 1601 took it to 4.7 GB before the fix. */
const RSS_BOUND_MB = 400;
/**
 * The bystander's deadline: a second, as the issue asks, on a machine that is otherwise idle.
 * On a runner already loaded by other suites an idle node can take longer than that, so it is
 * then four times the slowest of three probes taken on this node just before any attack (the
 * rule test/hostile/harness.ts applies), and the tests still measure what the attack costs.
 */
let probeLimitMs = 1000;
const { alice: ALICE, bob: BOB } = NODE_CHILD_ACCOUNTS;
const CAL = `/dav/calendars/${ALICE.address}/default/`;

const vcal = (body: string[]): string => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven test//EN', ...body, 'END:VCALENDAR', ''].join('\r\n');
const NEVER = vcal(['BEGIN:VEVENT', 'UID:never@example.org', 'DTSTAMP:20260101T000000Z', 'DTSTART:20260101T000000Z', 'RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30', 'END:VEVENT']);
/** The 327-byte attack of the issue: a time zone whose one observance changes every second since 1601. */
const TZ_BOMB = vcal([
  'BEGIN:VTIMEZONE', 'TZID:Bomb', 'BEGIN:STANDARD', 'DTSTART:16010101T000000', 'RRULE:FREQ=SECONDLY', 'TZOFFSETFROM:+0000', 'TZOFFSETTO:+0000', 'END:STANDARD', 'END:VTIMEZONE',
  'BEGIN:VEVENT', 'UID:tzbomb@example.org', 'DTSTAMP:20260101T000000Z', 'DTSTART;TZID=Bomb:20260101T100000', 'END:VEVENT',
]);
const DENSE = vcal(['BEGIN:VEVENT', 'UID:dense@example.org', 'DTSTAMP:20260101T000000Z', 'DTSTART:20260101T000000Z', 'RRULE:FREQ=SECONDLY', 'END:VEVENT']);
/** RFC 4791 Appendix B's US/Eastern zone, with a yearly event (the open-ended query attack). */
const EASTERN = [
  'BEGIN:VTIMEZONE', 'LAST-MODIFIED:20040110T032845Z', 'TZID:US/Eastern',
  'BEGIN:DAYLIGHT', 'DTSTART:20000404T020000', 'RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4', 'TZNAME:EDT', 'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'END:DAYLIGHT',
  'BEGIN:STANDARD', 'DTSTART:20001026T020000', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10', 'TZNAME:EST', 'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'END:STANDARD',
  'END:VTIMEZONE',
];
const YEARLY = vcal([...EASTERN, 'BEGIN:VEVENT', 'UID:yearly@example.org', 'DTSTAMP:20260101T000000Z', 'DTSTART;TZID=US/Eastern:20260704T120000', 'DURATION:PT1H', 'RRULE:FREQ=YEARLY', 'SUMMARY:Fireworks', 'END:VEVENT']);

let dir: string;
let child: Child;
let ca: Buffer;
let ports: Record<string, number>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'haven-dav-limits-'));
  const seedNever = join(dir, 'stored-never.ics');
  const seedBomb = join(dir, 'stored-tzbomb.ics');
  writeFileSync(seedNever, NEVER.replace('never@', 'stored-never@'));
  writeFileSync(seedBomb, TZ_BOMB.replace('tzbomb@', 'stored-tzbomb@'));
  const node = await startNodeChild(join(dir, 'data'), { seeds: [seedNever, seedBomb] });
  child = node.child;
  ports = node.ports as Record<string, number>;
  ca = node.ca;
  // The first login of an account derives its key (scrypt) and opens its mailbox: not what is measured here.
  await probe();
  let slowest = 0;
  for (let i = 0; i < 3; i++) {
    const p = await probe();
    slowest = Math.max(slowest, p.health, p.imap);
  }
  probeLimitMs = Math.max(1000, Math.ceil(4 * slowest));
});

afterAll(async () => {
  await child?.kill();
  rmSync(dir, { recursive: true, force: true });
});

function request(method: string, path: string, opts: { body?: string; headers?: Record<string, string>; user?: { address: string; password: string } | null } = {}): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  const user = opts.user === undefined ? ALICE : opts.user;
  const headers: Record<string, string> = { ...opts.headers };
  if (user) headers['Authorization'] = 'Basic ' + Buffer.from(`${user.address}:${user.password}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: ports.https, method, path, headers, ca, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const put = (name: string, body: string) => request('PUT', CAL + name, { body, headers: { 'Content-Type': 'text/calendar; charset=utf-8' } });

function rssMb(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.proc.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/**
 * An IMAP login over implicit TLS as a raw transcript (greeting, LOGIN,
 * LOGOUT), timed from connect to the tagged OK of LOGIN: the node's own
 * latency, without a client library's extra round trips.
 */
function imapLogin(user: { address: string; password: string }): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: ports.imaps, ca, servername: 'localhost' });
    let buf = '';
    let state: 'greeting' | 'login' | 'logout' = 'greeting';
    let ms = 0;
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (state === 'greeting' && /^\* OK.*\r\n/.test(buf)) {
        state = 'login';
        buf = '';
        sock.write(`a LOGIN "${user.address}" "${user.password}"\r\n`);
      } else if (state === 'login' && /(^|\r\n)a (OK|NO|BAD)[^\r]*\r\n/.test(buf)) {
        if (!/(^|\r\n)a OK/.test(buf)) reject(new Error(`LOGIN refused: ${buf.trim()}`));
        ms = performance.now() - started;
        state = 'logout';
        sock.write('b LOGOUT\r\n');
      }
    });
    sock.on('close', () => (state === 'logout' ? resolve(ms) : reject(new Error(`IMAP closed during ${state}: ${buf}`))));
    sock.on('error', reject);
  });
}

/** One round of the second client: a full IMAP login (bob) and a /health request, timed. */
async function probe(): Promise<{ health: number; imap: number; rss: number }> {
  const health = (async () => {
    const r = await request('GET', '/health', { user: null });
    expect(r.status).toBe(200);
    return r.ms;
  })();
  const imap = imapLogin(BOB);
  return { health: await health, imap: await imap, rss: rssMb() };
}

/** Runs the attack while probing in a loop; every probe (at least one during and one after) must be prompt. */
async function whileServing<T>(attack: () => Promise<T>): Promise<T> {
  let done = false;
  const samples: { health: number; imap: number; rss: number }[] = [];
  const loop = (async () => {
    do samples.push(await probe());
    while (!done);
  })();
  const result = await attack();
  done = true;
  await loop;
  samples.push(await probe());
  if (process.env.PROBE_LOG) console.log(JSON.stringify(samples.map((s) => [Math.round(s.health), Math.round(s.imap), Math.round(s.rss)])));
  // One slow probe is forgiven when the very next one makes the deadline (a shared runner can leave the node
  // unscheduled for a moment, which is no attack's doing); an attack that holds the node misses twice in a row.
  // The last probe, after the attack, must make it.
  samples.forEach((s, i) => {
    expect(s.rss, 'node RSS (MB)').toBeLessThan(RSS_BOUND_MB);
    const slow = (x: { health: number; imap: number }) => x.health >= probeLimitMs || x.imap >= probeLimitMs;
    if (!slow(s)) return;
    const next = samples[i + 1];
    expect(next && !slow(next), `probe ${i} took ${Math.round(s.health)} ms (/health) and ${Math.round(s.imap)} ms (IMAP login), the one after it too or there was none; the limit is ${probeLimitMs} ms`).toBe(true);
  });
  return result;
}

const precondition = (body: string): string | undefined => /<cal:([a-z-]+)\/>/.exec(body)?.[1];

function query(range: string): string {
  return `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
    <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range ${range}/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
}
const hrefs = (body: string): string[] => [...body.matchAll(/<d:href>[^<]*\/([^/<]+)<\/d:href>/g)].map((m) => m[1]).sort();

describe('a rule that never yields a date (issue 21 item 2)', () => {
  it('is refused at PUT with 403 valid-calendar-data, five times in a row, while the node serves others', async () => {
    const results = await whileServing(async () => {
      const out = [];
      for (let i = 0; i < 5; i++) out.push(await put(`never-${i}.ics`, NEVER.replace('never@', `never-${i}@`)));
      return out;
    });
    for (const r of results) {
      expect(r.status).toBe(403);
      expect(precondition(r.body)).toBe('valid-calendar-data');
      expect(r.body).toMatch(/iterations/);
    }
    expect((await request('GET', CAL + 'never-0.ics')).status).toBe(404);
  });

  it('arriving as an iMIP invitation from another account, is not applied to the calendar', async () => {
    const sub = nodemailer.createTransport({ host: '127.0.0.1', port: ports.submission, secure: false, requireTLS: true, auth: { user: BOB.address, pass: BOB.password }, tls: { ca, servername: 'localhost' } });
    const invite = NEVER.replace('UID:never@example.org', `UID:imip-never@example.org\r\nORGANIZER:mailto:${BOB.address}\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:${ALICE.address}`).replace('VERSION:2.0', 'VERSION:2.0\r\nMETHOD:REQUEST');
    await sub.sendMail({ from: BOB.address, to: ALICE.address, subject: 'Every second of 30 February', text: 'see the invitation', icalEvent: { method: 'REQUEST', content: invite } });
    // Wait until the invitation is in Alice's INBOX (delivery is asynchronous).
    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, tls: { ca, servername: 'localhost' }, logger: false });
    await imap.connect();
    try {
      const box = await imap.mailboxOpen('INBOX');
      // imapflow IDLEs while the box is open and reports the delivery as an EXISTS.
      if (box.exists === 0) await new Promise<void>((resolve) => imap.once('exists', () => resolve()));
    } finally {
      await imap.logout();
    }
    // Alice's next DAV request applies what arrived: the invitation is refused, the node keeps serving.
    const r = await whileServing(() => request('REPORT', CAL, { headers: { Depth: '1', 'Content-Type': 'application/xml' }, body: query('start="20250101T000000Z" end="20300101T000000Z"') }));
    expect(r.status).toBe(207);
    expect(hrefs(r.body).filter((h) => h.includes('imip-never'))).toEqual([]);
    const all = await request('PROPFIND', CAL, { headers: { Depth: '1' } });
    expect(all.body).not.toContain('imip-never');
  });
});

describe('a VTIMEZONE observance from 1601 repeating every second (issue 21 item 3)', () => {
  it('is refused with valid-calendar-data without the heap growing', async () => {
    const before = rssMb();
    const r = await whileServing(() => put('tzbomb.ics', TZ_BOMB));
    expect(Buffer.byteLength(TZ_BOMB)).toBeLessThan(400);
    expect(r.status).toBe(403);
    expect(precondition(r.body)).toBe('valid-calendar-data');
    expect(r.body).toMatch(/yearly/);
    expect(rssMb() - before).toBeLessThan(100);
  });
});

describe('a dense unbounded rule', () => {
  it('FREQ=SECONDLY without an end is refused with max-instances (RFC 4791 §5.3.2.1)', async () => {
    const r = await whileServing(() => put('dense.ics', DENSE));
    expect(r.status).toBe(403);
    expect(precondition(r.body)).toBe('max-instances');
    // The limit is the one the calendar advertises (RFC 4791 §5.2.8).
    const pf = await request('PROPFIND', CAL, {
      headers: { Depth: '0', 'Content-Type': 'application/xml' },
      body: '<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:max-instances/></D:prop></D:propfind>',
    });
    expect(/<cal:max-instances>(\d+)<\/cal:max-instances>/.exec(pf.body)?.[1]).toBe('20000');
    expect(r.body).toContain('20000');
  });
});

describe('open-ended and far time ranges over a yearly event with a VTIMEZONE (issue 21 item 4)', () => {
  it('stores the event at once', async () => {
    const r = await whileServing(() => put('yearly.ics', YEARLY));
    expect(r.status).toBe(201);
    expect(r.ms).toBeLessThan(probeLimitMs);
  });

  it('answers a query with a start and no end (RFC 4791 §9.9) promptly, within the 10-year horizon', async () => {
    const r = await whileServing(() => request('REPORT', CAL, { headers: { Depth: '1', 'Content-Type': 'application/xml' }, body: query('start="20300101T000000Z"') }));
    expect(r.status).toBe(207);
    expect(hrefs(r.body)).toContain('yearly.ics');
    expect(r.ms).toBeLessThan(2000);
  });

  it('answers a query in the year 9000 promptly, with the instance where the zone puts it (16:00Z in July)', async () => {
    const hit = await whileServing(() => request('REPORT', CAL, { headers: { Depth: '1', 'Content-Type': 'application/xml' }, body: query('start="90000704T155900Z" end="90000704T160100Z"') }));
    expect(hit.status).toBe(207);
    expect(hrefs(hit.body)).toEqual(['yearly.ics']);
    // 7,000 yearly instances are walked (in slices: the probes above stay prompt meanwhile); it took minutes before.
    expect(hit.ms).toBeLessThan(5000);
    // Read as UTC (the zone ignored) it would sit at 12:00Z.
    const miss = await request('REPORT', CAL, { headers: { Depth: '1', 'Content-Type': 'application/xml' }, body: query('start="90000704T115900Z" end="90000704T120100Z"') });
    expect(hrefs(miss.body)).toEqual([]);
  });

  it('expands that instance in the year 9000 (RFC 4791 §9.6.5) promptly', async () => {
    const r = await whileServing(() =>
      request('REPORT', CAL, {
        headers: { Depth: '1', 'Content-Type': 'application/xml' },
        body: `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="90000101T000000Z" end="90010101T000000Z"/></C:calendar-data></D:prop><D:href>${CAL}yearly.ics</D:href></C:calendar-multiget>`,
      }),
    );
    expect(r.status).toBe(207);
    expect(r.body).toContain('DTSTART:90000704T160000Z');
    expect(r.body).toContain('RECURRENCE-ID:90000704T160000Z');
    expect(r.ms).toBeLessThan(5000);
  });
});

describe('pathological objects stored before the limits existed', () => {
  it('are left out of queries, which answer at once; they can still be read and deleted', async () => {
    const r = await whileServing(() => request('REPORT', CAL, { headers: { Depth: '1', 'Content-Type': 'application/xml' }, body: query('start="20260101T000000Z" end="20270101T000000Z"') }));
    expect(r.status).toBe(207);
    expect(hrefs(r.body)).not.toContain('stored-never.ics');
    expect(hrefs(r.body)).not.toContain('stored-tzbomb.ics');
    const free = await whileServing(() =>
      request('REPORT', CAL, { headers: { Depth: '1', 'Content-Type': 'application/xml' }, body: '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260101T000000Z"/></C:free-busy-query>' }),
    );
    expect(free.status).toBe(200);
    expect((await request('GET', CAL + 'stored-never.ics')).status).toBe(200);
    expect((await request('DELETE', CAL + 'stored-never.ics')).status).toBe(204);
    expect((await request('DELETE', CAL + 'stored-tzbomb.ics')).status).toBe(204);
  });
});
