/**
 * @module bench/dav
 * CalDAV load: PUT 10,000 events (a tenth of them weekly recurring) from 20
 * concurrent clients; the reads a calendar app makes (GET of one event,
 * calendar-multiget of 50 with their data, calendar-query returning every
 * event of a 1,000-event calendar with its data); calendar-query time ranges
 * (recurrences expanded), sync-collection after 100 changes, and a mixed
 * workload from 20 concurrent clients. Haven serves from its own process
 * (bench/dav-node.ts), as Radicale does, so client and server do not share
 * an event loop. Prints requests per second, p50/p99 latency and requests
 * per CPU-second of the server (read from /proc, the figure that holds on a
 * shared machine) per phase. Haven runs twice: over HTTPS, as clients meet
 * it, and over plain HTTP on loopback, as Radicale is measured (TLS costs
 * Haven a fifth of its CPU on small reads; `--radicale-tls` runs Radicale
 * over HTTPS as well, with the same certificate). Then, when Radicale is
 * installed (Debian's `radicale`), it starts one on a free loopback port
 * with a scratch storage folder and runs the same client against it, and
 * prints the ratios per phase, like for like and as deployed. Radicale
 * absent, or `--no-radicale`: Haven's figures alone. `--radicale URL` uses a
 * Radicale already running (auth none). `--haven-tls only` skips Haven's
 * plain-HTTP run.
 *
 * Each server first takes --warmup (200) untimed PUTs into a calendar of
 * their own, so the timed phases measure a running server rather than its
 * start-up; --warmup 0 measures from cold.
 *
 * --replica: Haven's node streams every commit to a directory replica (in
 * the scratch folder), as a node in service does; without it the node runs
 * no replicator and SQLite checkpoints by itself.
 *
 *   npm run bench -- dav [--warmup 200] [--replica] [--events 10000] [--clients 20] [--seconds 10] [--queries 200] [--gets 4000] [--multigets 400] [--full 1000] [--full-queries 40] [--no-radicale] [--radicale URL] [--radicale-tls] [--haven-tls only]
 *
 * HAVEN_BENCH_CPU_PROF=<dir> writes a CPU profile of the Haven server there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { addAccount, makeTestStore, testTls } from '../test/helpers/store.js';
import { freePort } from './lib/daemon.js';
import { withBenchNode } from './lib/node-child.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '10' },
    queries: { type: 'string', default: '200' },
    gets: { type: 'string', default: '4000' },
    multigets: { type: 'string', default: '400' },
    full: { type: 'string', default: '1000' },
    'full-queries': { type: 'string', default: '40' },
    radicale: { type: 'string' },
    'no-radicale': { type: 'boolean', default: false },
    'radicale-tls': { type: 'boolean', default: false },
    'haven-tls': { type: 'string', default: 'both' },
    warmup: { type: 'string', default: '200' },
    replica: { type: 'boolean', default: false },
  },
});
const QUERIES = Number(args.queries);
const EVENTS = Number(args.events);
const CLIENTS = Number(args.clients);
const SECONDS = Number(args.seconds);
const GETS = Number(args.gets);
const MULTIGETS = Number(args.multigets);
const FULL = Number(args.full);
const FULL_QUERIES = Number(args['full-queries']);
const MULTIGET_SIZE = 50;
const WARMUP = Number(args.warmup);

interface Target {
  name: string;
  base: string;
  cal: string;
  /** A second calendar holding FULL events: every one comes back from the full calendar-query. */
  full: string;
  /** A third calendar for the untimed warm-up PUTs, so the timed phases see the same data either way. */
  warm: string;
  /** The server's process, for its CPU time. */
  pid?: number;
  auth: string;
  agent: http.Agent;
  mod: typeof http | typeof https;
}

function request(t: Target, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; etag?: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(t.base + path);
    const req = t.mod.request(
      { host: url.hostname, port: url.port, path: url.pathname, method, agent: t.agent, servername: 'localhost', headers: { Authorization: t.auth, ...headers, ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), etag: res.headers.etag }));
      },
    );
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const fmt = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

function eventText(i: number, version = 0): string {
  const start = T0 + (i % 365) * DAY + ((i * 37) % 10) * 3_600_000 + 8 * 3_600_000;
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven bench//EN', 'BEGIN:VEVENT', `UID:bench-${i}@example.test`, 'DTSTAMP:20260101T000000Z', `DTSTART:${fmt(start)}`, `DTEND:${fmt(start + 3_600_000)}`, `SUMMARY:Event ${i} v${version}`, `DESCRIPTION:${'Agenda item. '.repeat(10)}`];
  if (i % 10 === 0) lines.push('RRULE:FREQ=WEEKLY;COUNT=52');
  lines.push('END:VEVENT', 'END:VCALENDAR', '');
  return lines.join('\r\n');
}

/** The server process being measured (its CPU time is read from /proc); none for a Radicale given by URL. */
let serverPid: number | undefined;

/** CPU time (user + system, ms) the server has used so far, or NaN when it cannot be read. */
function serverCpuMs(): number {
  if (serverPid === undefined) return NaN;
  try {
    // /proc/<pid>/stat: utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    const f = readFileSync(`/proc/${serverPid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * Throughput, latency, and requests per CPU-second of the server: on a
 * shared machine the wall-clock rate follows whatever else runs, while the
 * server's own CPU time per request does not.
 */
function stats(lat: number[], wallMs: number, cpuMs = NaN) {
  const s = [...lat].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
  return { n: s.length, rps: Math.round((s.length / wallMs) * 1000), p50: +q(0.5).toFixed(2), p99: +q(0.99).toFixed(2), perCpuSec: cpuMs > 0 ? Math.round((s.length / cpuMs) * 1000) : NaN };
}

/** Runs `total` jobs across `clients` workers; returns per-request latencies. */
async function pool(clients: number, total: number, job: (i: number) => Promise<void>) {
  const lat: number[] = [];
  let next = 0;
  const cpu0 = serverCpuMs();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await job(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  return stats(lat, performance.now() - t0, serverCpuMs() - cpu0);
}

const check = (ok: boolean, what: string) => {
  if (!ok) throw new Error(`bench: ${what}`);
};

type Figures = Record<string, ReturnType<typeof stats>>;

async function run(t: Target): Promise<Figures> {
  console.log(`\n== ${t.name} (${t.base})`);
  serverPid = t.pid;
  // Untimed, so PUT measures a running server: from cold, its first requests
  // pay start-up (the first login's key derivation, JIT) that 300 PUTs cannot
  // amortise (it was their p99). --warmup 0 measures from cold.
  if (WARMUP > 0) {
    const mk = await request(t, 'MKCALENDAR', t.warm);
    check(mk.status === 201, `MKCALENDAR ${t.warm} -> ${mk.status} ${mk.text.slice(0, 200)}`);
    await pool(CLIENTS, WARMUP, async (i) => {
      const r = await request(t, 'PUT', `${t.warm}w${i}.ics`, eventText(EVENTS + FULL + i), { 'Content-Type': 'text/calendar; charset=utf-8' });
      check(r.status === 201, `PUT w${i} -> ${r.status}`);
    });
  }
  const put = await pool(CLIENTS, EVENTS, async (i) => {
    const r = await request(t, 'PUT', `${t.cal}e${i}.ics`, eventText(i), { 'Content-Type': 'text/calendar; charset=utf-8' });
    check(r.status === 201 || r.status === 204, `PUT e${i} -> ${r.status} ${r.text.slice(0, 200)}`);
  });
  console.log(`PUT ${EVENTS} events, ${CLIENTS} clients:`, put);

  const mk = await request(t, 'MKCALENDAR', t.full);
  check(mk.status === 201, `MKCALENDAR ${t.full} -> ${mk.status} ${mk.text.slice(0, 200)}`);
  await pool(CLIENTS, FULL, async (i) => {
    const r = await request(t, 'PUT', `${t.full}f${i}.ics`, eventText(EVENTS + i), { 'Content-Type': 'text/calendar; charset=utf-8' });
    check(r.status === 201, `PUT f${i} -> ${r.status}`);
  });

  const get = await pool(CLIENTS, GETS, async (i) => {
    const n = (i * 7919) % EVENTS;
    const r = await request(t, 'GET', `${t.cal}e${n}.ics`);
    check(r.status === 200 && r.text.includes(`UID:bench-${n}@`), `GET e${n} -> ${r.status} ${r.text.slice(0, 200)}`);
  });
  console.log(`GET one event, ${CLIENTS} clients:`, get);

  const multigetBody = (first: number) =>
    `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>${Array.from({ length: MULTIGET_SIZE }, (_, k) => `<D:href>${t.cal}e${(first + k) % EVENTS}.ics</D:href>`).join('')}</C:calendar-multiget>`;
  const mget = await pool(CLIENTS, MULTIGETS, async (i) => {
    const r = await request(t, 'REPORT', t.cal, multigetBody((i * 977) % EVENTS), { Depth: '1', 'Content-Type': 'application/xml' });
    const n = (r.text.match(/<[a-zA-Z0-9]*:?calendar-data[ >]/g) ?? []).length;
    check(r.status === 207 && n === MULTIGET_SIZE, `multiget -> ${r.status}, ${n} calendar-data ${r.text.slice(0, 200)}`);
  });
  console.log(`calendar-multiget of ${MULTIGET_SIZE} with calendar-data, ${CLIENTS} clients:`, mget);

  const fullQuery = `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>`;
  const full = await pool(Math.min(CLIENTS, 4), FULL_QUERIES, async () => {
    const r = await request(t, 'REPORT', t.full, fullQuery, { Depth: '1', 'Content-Type': 'application/xml' });
    const n = (r.text.match(/<[a-zA-Z0-9]*:?calendar-data[ >]/g) ?? []).length;
    check(r.status === 207 && n === FULL, `full calendar-query -> ${r.status}, ${n} calendar-data ${r.text.slice(0, 200)}`);
  });
  console.log(`calendar-query of all ${FULL} events with calendar-data, 4 clients:`, full);

  const query = (start: number, end: number) =>
    `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="${fmt(start)}" end="${fmt(end)}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
  let matches = 0;
  const q = await pool(CLIENTS, QUERIES, async (i) => {
    const start = T0 + (i % 50) * 7 * DAY;
    const r = await request(t, 'REPORT', t.cal, query(start, start + 7 * DAY), { Depth: '1', 'Content-Type': 'application/xml' });
    check(r.status === 207, `REPORT -> ${r.status} ${r.text.slice(0, 200)}`);
    if (i === 0) matches = (r.text.match(/<[a-zA-Z0-9]*:?response>/g) ?? []).length;
  });
  console.log(`calendar-query, one week (the first week: ${matches} matches incl. recurrences), ${CLIENTS} clients:`, q);

  const syncBody = (token: string) => `<D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`;
  const initial = await request(t, 'REPORT', t.cal, syncBody(''), { 'Content-Type': 'application/xml' });
  const token = /<[^>]*sync-token>([^<]+)</.exec(initial.text)?.[1] ?? '';
  check(!!token, 'no sync token');
  for (let i = 0; i < 100; i++) await request(t, 'PUT', `${t.cal}e${i * 7}.ics`, eventText(i * 7, 1), { 'Content-Type': 'text/calendar; charset=utf-8' });
  let changed = 0;
  const sync = await pool(1, 20, async () => {
    const r = await request(t, 'REPORT', t.cal, syncBody(token), { 'Content-Type': 'application/xml' });
    check(r.status === 207, `sync -> ${r.status}`);
    changed = (r.text.match(/<[a-zA-Z0-9]*:?response>/g) ?? []).length;
  });
  console.log(`sync-collection after 100 changes (${changed} responses):`, sync);

  // Mixed: what a calendar app does on a refresh and an edit.
  const lat: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  const cpu0 = serverCpuMs();
  const t0 = performance.now();
  let k = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      while (performance.now() < until) {
        const i = (c * 7919 + k++) % EVENTS;
        const s = performance.now();
        switch (k % 4) {
          case 0:
            check((await request(t, 'GET', `${t.cal}e${i}.ics`)).status === 200, 'GET');
            break;
          case 1:
            check((await request(t, 'PROPFIND', t.cal, '<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/><D:sync-token/></D:prop></D:propfind>', { Depth: '0', 'Content-Type': 'application/xml' })).status === 207, 'PROPFIND');
            break;
          case 2:
            check([201, 204].includes((await request(t, 'PUT', `${t.cal}e${i}.ics`, eventText(i, k), { 'Content-Type': 'text/calendar; charset=utf-8' })).status), 'PUT');
            break;
          default: {
            const start = T0 + (i % 50) * 7 * DAY;
            check((await request(t, 'REPORT', t.cal, query(start, start + DAY), { Depth: '1', 'Content-Type': 'application/xml' })).status === 207, 'REPORT');
          }
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const mixed = stats(lat, performance.now() - t0, serverCpuMs() - cpu0);
  console.log(`mixed GET/PROPFIND/PUT/REPORT, ${CLIENTS} clients, ${SECONDS}s:`, mixed);
  return { put, get, multiget: mget, full, query: q, sync, mixed };
}

/** The Radicale binary, or null when it is not installed. */
function radicaleBinary(): string | null {
  for (const bin of ['/usr/bin/radicale', 'radicale']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return bin;
  }
  return null;
}

/**
 * Starts Radicale (auth none, scratch storage) and resolves once it answers
 * HTTP. Its default of 8 connections would leave most of our keep-alive
 * clients hanging in connect, so it gets room for all of them.
 */
async function startRadicale(bin: string, secure: boolean): Promise<{ url: string; pid?: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-bench-radicale-'));
  const port = await freePort();
  // Over TLS: the certificate Haven is measured with, in the scratch folder (0700 from mkdtemp).
  const tlsArgs: string[] = [];
  if (secure) {
    const { key, cert } = testTls();
    writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
    writeFileSync(join(dir, 'cert.pem'), cert, { mode: 0o600 });
    tlsArgs.push('--server-ssl', '--server-certificate', join(dir, 'cert.pem'), '--server-key', join(dir, 'key.pem'));
  }
  const child: ChildProcess = spawn(
    bin,
    [...tlsArgs, '--config', '', '--server-hosts', `127.0.0.1:${port}`, '--auth-type', 'none', '--rights-type', 'owner_only', '--storage-filesystem-folder', join(dir, 'collections'), '--logging-level', 'warning', '--server-max-content-length', '100000000', '--server-max-connections', String(CLIENTS * 2)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Radicale may still be writing its cache: remove its folder only once it has exited.
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await gone;
    rmSync(dir, { recursive: true, force: true });
  };
  const exited = gone.then(() => {
    throw new Error(`radicale exited (${child.exitCode ?? child.signalCode}) before answering`);
  });
  const ready = (async () => {
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const req = (secure ? https : http).get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(true);
        });
        req.on('error', () => resolve(false));
      });
      if (ok) return;
      // Radicale needs a moment to import; poll its port rather than guess a delay.
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await Promise.race([ready, exited]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `${secure ? 'https' : 'http'}://127.0.0.1:${port}`, pid: child.pid, stop };
}

async function runRadicale(url: string, pid?: number): Promise<Figures> {
  const base = url.replace(/\/$/, '');
  const secure = base.startsWith('https:');
  const t: Target = {
    name: secure ? 'Radicale (HTTPS)' : 'Radicale (HTTP)',
    base,
    cal: '/bench/cal/',
    full: '/bench/full/',
    warm: '/bench/warm/',
    pid,
    auth: 'Basic ' + Buffer.from('bench:bench').toString('base64'),
    agent: secure ? new https.Agent({ keepAlive: true, maxSockets: CLIENTS, ca: testTls().cert }) : new http.Agent({ keepAlive: true, maxSockets: CLIENTS }),
    mod: secure ? https : http,
  };
  const mk = await request(t, 'MKCALENDAR', t.cal);
  check(mk.status === 201 || mk.status === 405 || mk.status === 409, `MKCALENDAR on Radicale -> ${mk.status} ${mk.text}`);
  return run(t);
}

async function runHaven(secure: boolean): Promise<Figures> {
  const ts = makeTestStore();
  let replicaDir: string | null = null;
  try {
    await addAccount(ts.store, 'bench@example.test', 'bench password 123');
    ts.store.close();
    const { cert } = testTls();
    // The node in its own process, as Radicale runs in its own: client and server do not share an event loop.
    replicaDir = args.replica ? mkdtempSync(join(tmpdir(), 'haven-bench-dav-replica-')) : null;
    const replica = replicaDir ? [`file://${replicaDir}`] : [];
    return await withBenchNode('dav-node.ts', [ts.dataDir, ts.masterKey.toString('hex'), secure ? 'https' : 'http', ...replica], /^PORT (\d+)/, async ({ ready, pid }) => {
      const port = Number(ready[1]);
      const t: Target = {
        name: secure ? 'Haven (HTTPS)' : 'Haven (HTTP)',
        base: `${secure ? 'https' : 'http'}://127.0.0.1:${port}`,
        cal: '/dav/calendars/bench@example.test/default/',
        full: '/dav/calendars/bench@example.test/full/',
        warm: '/dav/calendars/bench@example.test/warm/',
        pid,
        auth: 'Basic ' + Buffer.from('bench@example.test:bench password 123').toString('base64'),
        agent: secure ? new https.Agent({ keepAlive: true, maxSockets: CLIENTS, ca: cert }) : new http.Agent({ keepAlive: true, maxSockets: CLIENTS }),
        mod: secure ? https : http,
      };
      return await run(t);
    });
  } finally {
    ts.cleanup();
    if (replicaDir) rmSync(replicaDir, { recursive: true, force: true });
  }
}

/** Haven beside a Radicale run, phase by phase: requests per second, and per CPU-second of each server. */
function compare(haven: Figures, havenName: string, radicale: Figures, radicaleName: string): void {
  console.log(`\n== ${havenName} / ${radicaleName} (requests per second, and per CPU-second of the server; target at least 10x)`);
  for (const k of Object.keys(haven)) {
    const ratio = radicale[k].rps > 0 ? (haven[k].rps / radicale[k].rps).toFixed(1) : 'inf';
    const cpuRatio = radicale[k].perCpuSec > 0 ? (haven[k].perCpuSec / radicale[k].perCpuSec).toFixed(1) : '-';
    console.log(`${k.padEnd(8)} Haven ${String(haven[k].rps).padStart(6)} rps p99 ${haven[k].p99} ms | Radicale ${String(radicale[k].rps).padStart(6)} rps p99 ${radicale[k].p99} ms | ${ratio}x | per CPU-second ${haven[k].perCpuSec} vs ${radicale[k].perCpuSec}: ${cpuRatio}x`);
  }
}

/** Starts a Radicale, runs the phases against it, and stops it whatever happens. */
async function withRadicale(bin: string, secure: boolean): Promise<Figures> {
  const r = await startRadicale(bin, secure);
  // A stopped bench must not leave Radicale running (or its scratch folder behind).
  const onSignal = (sig: NodeJS.Signals) => void r.stop().finally(() => process.kill(process.pid, sig));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    return await runRadicale(r.url, r.pid);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await r.stop();
  }
}

async function main() {
  const havenTls = await runHaven(true);
  const havenPlain = args['haven-tls'] === 'only' ? null : await runHaven(false);
  let radicale: Figures | null = null;
  let radicaleTls: Figures | null = null;
  if (args.radicale) {
    const r = await runRadicale(args.radicale);
    if (args.radicale.startsWith('https:')) radicaleTls = r;
    else radicale = r;
  } else if (!args['no-radicale']) {
    const bin = radicaleBinary();
    if (!bin) console.log('\nRadicale is not installed (Debian: apt install radicale): Haven figures only.');
    else {
      radicale = await withRadicale(bin, false);
      if (args['radicale-tls']) radicaleTls = await withRadicale(bin, true);
    }
  }
  // Like for like first (both over plain HTTP, both over HTTPS), then Haven as deployed against Radicale as usually measured.
  if (radicale && havenPlain) compare(havenPlain, 'Haven (HTTP)', radicale, 'Radicale (HTTP)');
  if (radicaleTls) compare(havenTls, 'Haven (HTTPS)', radicaleTls, 'Radicale (HTTPS)');
  if (radicale) compare(havenTls, 'Haven (HTTPS)', radicale, 'Radicale (HTTP)');
}

await main();
