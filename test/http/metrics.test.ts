/**
 * /metrics: the registry's Prometheus text format 0.0.4, checked by a strict
 * parser written here from the format's specification, and counters that
 * move when mail flows through a real MX, a real IMAP listener and DAV.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImap } from '../../node/imap/server.js';
import { startPop3 } from '../../node/pop3/index.js';
import { queueFor, startQueueRunner, type QueueRunner } from '../../node/smtp/index.js';
import { silentLogger } from '../../node/util/log.js';
import { Registry } from '../../node/util/metrics.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, sampleMessage } from '../helpers/store.js';
import { baseDeps, client, publishDomain, startMx, startRemoteMx, tlsDeps, waitEvent, type RemoteMx } from '../smtp/harness.js';
import { makeTestApp, type TestApp } from './harness.js';

// ---- a Prometheus text-format (0.0.4) parser, strict about what it accepts

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  help?: string;
  type?: string;
  samples: Sample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value "${s}" in: ${line}`);
  return Number(s);
}

function unescape(s: string, allowQuote: boolean, line: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && allowQuote) return '"';
    throw new Error(`bad escape \\${c} in: ${line}`);
  });
}

/** The family a sample belongs to: histogram samples carry _bucket/_sum/_count suffixes. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
    }
  }
  return families.get(name);
}

function parseProm(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  let current: Family | undefined;
  const enter = (f: Family) => {
    if (current && current !== f) finished.add(current.name);
    if (finished.has(f.name)) throw new Error(`samples of ${f.name} are not grouped together`);
    current = f;
  };
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
      if (!m) continue; // plain comment
      if (!METRIC.test(m[2]) || METRIC.exec(m[2])![0] !== m[2]) throw new Error(`bad metric name in: ${line}`);
      const f = family(m[2]);
      enter(f);
      if (m[1] === 'HELP') {
        if (f.help !== undefined) throw new Error(`second HELP for ${f.name}`);
        f.help = unescape(m[3], false, line);
      } else {
        if (f.type !== undefined) throw new Error(`second TYPE for ${f.name}`);
        if (f.samples.length) throw new Error(`TYPE after samples for ${f.name}`);
        if (!TYPES.has(m[3])) throw new Error(`bad type in: ${line}`);
        f.type = m[3];
      }
      continue;
    }
    let rest = line;
    const name = METRIC.exec(rest)?.[0];
    if (!name) throw new Error(`bad sample line: ${line}`);
    rest = rest.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      while (!rest.startsWith('}')) {
        const ln = LABEL.exec(rest)?.[0];
        if (!ln) throw new Error(`bad label name in: ${line}`);
        rest = rest.slice(ln.length);
        if (!rest.startsWith('="')) throw new Error(`expected =" in: ${line}`);
        rest = rest.slice(2);
        let i = 0;
        let raw = '';
        for (;;) {
          if (i >= rest.length) throw new Error(`unterminated label value in: ${line}`);
          const ch = rest[i];
          if (ch === '\\') {
            raw += rest.slice(i, i + 2);
            i += 2;
          } else if (ch === '"') break;
          else {
            raw += ch;
            i++;
          }
        }
        if (ln in labels) throw new Error(`label ${ln} twice in: ${line}`);
        labels[ln] = unescape(raw, true, line);
        rest = rest.slice(i + 1);
        if (rest.startsWith(',')) rest = rest.slice(1);
        else if (!rest.startsWith('}')) throw new Error(`expected , or } in: ${line}`);
      }
      rest = rest.slice(1);
    }
    const parts = rest.trim().split(/ +/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new Error(`bad sample line: ${line}`);
    const f = familyOf(name, families) ?? family(name);
    enter(f);
    f.samples.push({ name, labels, value: parseValue(parts[0], line) });
  }
  // Histograms: cumulative buckets ending in +Inf equal to _count, per label set.
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of f.samples) {
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, ss] of series) {
      const buckets = ss.filter((s) => s.name === `${f.name}_bucket`);
      const count = ss.find((s) => s.name === `${f.name}_count`);
      if (!count || !ss.some((s) => s.name === `${f.name}_sum`)) throw new Error(`histogram ${f.name}${key} lacks _sum or _count`);
      const les = buckets.map((b) => parseValue(b.labels.le, b.labels.le));
      for (let i = 1; i < buckets.length; i++) {
        if (!(les[i] > les[i - 1])) throw new Error(`buckets of ${f.name} not in increasing le order`);
        if (buckets[i].value < buckets[i - 1].value) throw new Error(`buckets of ${f.name} not cumulative`);
      }
      if (les[les.length - 1] !== Infinity || buckets[buckets.length - 1].value !== count.value) throw new Error(`histogram ${f.name} +Inf bucket must equal _count`);
    }
  }
  return families;
}

function value(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = familyOf(name, fams);
  const s = f?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  return s?.value ?? 0;
}

// ---- the registry alone

describe('metrics registry', () => {
  it('renders counters, gauges and histograms that the parser accepts, escaping label values', () => {
    const r = new Registry();
    const c = r.counter('t_events_total', 'Events.\nSecond line with a \\ backslash.', ['kind']);
    c.inc({ kind: 'a "quoted"\nvalue\\' });
    c.inc({ kind: 'plain' }, 2.5);
    const g = r.gauge('t_depth', 'Depth.');
    g.set(undefined, 7);
    g.dec(undefined, 2);
    const h = r.histogram('t_seconds', 'Durations.', ['proto'], [0.1, 1]);
    h.observe({ proto: 'x' }, 0.05);
    h.observe({ proto: 'x' }, 0.5);
    h.observe({ proto: 'x' }, 5);
    const fams = parseProm(r.render());
    expect(fams.get('t_events_total')).toMatchObject({ type: 'counter', help: 'Events.\nSecond line with a \\ backslash.' });
    expect(value(fams, 't_events_total', { kind: 'a "quoted"\nvalue\\' })).toBe(1);
    expect(value(fams, 't_events_total', { kind: 'plain' })).toBe(2.5);
    expect(value(fams, 't_depth')).toBe(5);
    expect(value(fams, 't_seconds_bucket', { proto: 'x', le: '0.1' })).toBe(1);
    expect(value(fams, 't_seconds_bucket', { proto: 'x', le: '1' })).toBe(2);
    expect(value(fams, 't_seconds_bucket', { proto: 'x', le: '+Inf' })).toBe(3);
    expect(value(fams, 't_seconds_count', { proto: 'x' })).toBe(3);
    expect(value(fams, 't_seconds_sum', { proto: 'x' })).toBeCloseTo(5.55);
  });

  it('collects gauges at scrape time and refuses misuse', () => {
    const r = new Registry();
    let depth = 3;
    r.gauge('t_live', 'Live.').collect((g) => g.set(undefined, depth));
    expect(value(parseProm(r.render()), 't_live')).toBe(3);
    depth = 9;
    expect(value(parseProm(r.render()), 't_live')).toBe(9);
    const c = r.counter('t_c_total', 'C.', ['a']);
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/only go up/);
    expect(() => c.inc({})).toThrow(/needs label a/);
    expect(() => c.inc({ a: 'x', b: 'y' })).toThrow(/no label b/);
    expect(() => r.counter('bad-name', 'x')).toThrow(/not a valid/);
    expect(() => r.gauge('t_c_total', 'C.')).toThrow(/already registered/);
    expect(r.counter('t_c_total', 'C.', ['a'])).toBe(c);
  });

  it('the parser itself refuses malformed exposition', () => {
    expect(() => parseProm('a 1')).toThrow(/newline/);
    expect(() => parseProm('a{b="c} 1\n')).toThrow(/unterminated/);
    expect(() => parseProm('a{b="\\x"} 1\n')).toThrow(/bad escape/);
    expect(() => parseProm('a one\n')).toThrow(/bad value/);
    expect(() => parseProm('# TYPE a counter\na 1\nb 1\na 2\n')).toThrow(/not grouped/);
    expect(() => parseProm('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(/cumulative/);
  });
});

// ---- counters that move with real traffic

describe('/metrics while mail flows', () => {
  const PW = 'correct horse battery';
  let h: TestApp;
  let dns: TestDns;
  let mx: { port: number; close(): Promise<void> };
  let imap: { port: number; close(): Promise<void> };
  let pop3: { port: number; close(): Promise<void> };

  beforeAll(async () => {
    h = makeTestApp();
    dns = await startTestDns();
    await addAccount(h.t.store, 'alice@example.test', PW);
    await addAccount(h.t.store, 'bob@example.test', PW);
    h.t.store.directory.addAlias('fwd@example.test', ['someone@elsewhere.test']);
    publishDomain(dns, h.t.store, 'example.test');
    dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    const deps = baseDeps(h.t.store, dns);
    mx = await startMx(deps);
    pop3 = await startPop3({ store: h.t.store, log: deps.log, authLimiter: deps.authLimiter, tls: tlsDeps(), hostname: 'mx.haven.test', limits: { allowPlaintextOnLoopback: true } }, { host: '127.0.0.1', port: 0, implicitTls: false });
    imap = await startImap({ store: h.t.store, log: deps.log, authLimiter: deps.authLimiter, tls: tlsDeps(), hostname: 'mx.haven.test', allowPlaintextOnLoopback: true }, { host: '127.0.0.1', port: 0, implicitTls: false });
  });

  afterAll(async () => {
    await mx?.close();
    await imap?.close();
    await pop3?.close();
    await dns?.close();
    h?.cleanup();
  });

  /** A raw line conversation: write, then wait until the transcript matches. */
  function converse(port: number) {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    sock.on('data', (d: Buffer) => (buf += d.toString()));
    const waitFor = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!re.test(buf)) return;
          sock.off('data', check);
          sock.off('close', closed);
          resolve();
        };
        const closed = () => reject(new Error(`connection closed before ${re}: ${buf}`));
        sock.on('data', check);
        sock.on('close', closed);
        check();
      });
    return { sock, waitFor };
  }

  async function scrape(): Promise<Map<string, Family>> {
    const res = await h.app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parseProm(await res.text());
  }

  it('counts SMTP connections, commands, and local, spool and forward deliveries', async () => {
    const before = await scrape();
    const lease = await h.t.store.authenticate('alice@example.test', PW); // alice's mailbox is open, bob's is locked
    try {
      await client(mx.port).sendMail({
        envelope: { from: 'someone@sender.test', to: ['alice@example.test', 'bob@example.test', 'fwd@example.test'] },
        raw: sampleMessage({ from: 'someone@sender.test' }),
      });
    } finally {
      lease.release();
    }
    await expect(client(mx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['nobody@example.test'] }, raw: sampleMessage() })).rejects.toMatchObject({ responseCode: 550 });
    const after = await scrape();
    const d = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(d('haven_connections_total', { protocol: 'smtp' })).toBe(2);
    expect(d('haven_deliveries_total', { kind: 'local' })).toBe(1);
    expect(d('haven_deliveries_total', { kind: 'spool' })).toBe(1);
    expect(d('haven_deliveries_total', { kind: 'forward' })).toBe(1);
    // MAIL, three RCPT and DATA; then MAIL and a refused RCPT.
    expect(d('haven_commands_total', { protocol: 'smtp', result: 'ok' })).toBe(6);
    expect(d('haven_commands_total', { protocol: 'smtp', result: 'no' })).toBe(1);
    expect(d('haven_command_duration_seconds_count', { protocol: 'smtp' })).toBe(7);
    // The forward waits in the queue (no runner here): the scrape-time gauges see it.
    expect(value(after, 'haven_queue_depth')).toBe(queueFor(h.t.store).depth().queued);
    expect(value(after, 'haven_queue_depth')).toBeGreaterThanOrEqual(1);
    expect(value(after, 'haven_certificate_days_left')).toBeGreaterThan(30_000);
    expect(after.get('haven_replication_lag_seconds')?.type).toBe('gauge');
  });

  it('counts outbound attempts by outcome, and the queue gauge falls as the runner delivers', async () => {
    const before = await scrape();
    expect(value(before, 'haven_queue_depth')).toBeGreaterThanOrEqual(1);
    dns.add('elsewhere.test', { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
    dns.add('mx.remote.test', { A: ['127.0.0.1'] });
    const remote: RemoteMx = await startRemoteMx(dns);
    let runner: QueueRunner | null = null;
    try {
      runner = startQueueRunner({ store: h.t.store, log: silentLogger, hostname: 'mx.haven.test', resolver: dns.resolver, outbound: { port: remote.port, families: [4] } });
      const sent = waitEvent(runner, (e) => e.type === 'result' && e.rcpt === 'someone@elsewhere.test');
      runner.kick();
      expect(await sent).toMatchObject({ outcome: 'sent' });
      await runner.idle();
    } finally {
      await runner?.close();
      await remote.close();
    }
    const after = await scrape();
    expect(value(after, 'haven_outbound_attempts_total', { outcome: 'sent' }) - value(before, 'haven_outbound_attempts_total', { outcome: 'sent' })).toBe(1);
    expect(value(after, 'haven_queue_depth')).toBe(value(before, 'haven_queue_depth') - 1);
  });

  it('counts IMAP commands by result and failed logins from IMAP and DAV', async () => {
    const before = await scrape();
    const { sock, waitFor } = converse(imap.port);
    await waitFor(/^\* OK/m);
    sock.write('a1 LOGIN alice@example.test "wrong password"\r\n');
    await waitFor(/^a1 NO/m);
    sock.write('a2 FROB\r\n');
    await waitFor(/^a2 BAD/m);
    sock.write(`a3 LOGIN alice@example.test "${PW}"\r\n`);
    await waitFor(/^a3 OK/m);
    sock.write('a4 LOGOUT\r\n');
    await waitFor(/^a4 OK/m);
    sock.destroy();
    const dav = await h.app.request('/dav/', { method: 'PROPFIND', headers: { Authorization: 'Basic ' + Buffer.from('bob@example.test:not his password').toString('base64'), Depth: '0' } });
    expect(dav.status).toBe(401);

    const after = await scrape();
    const d = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(d('haven_connections_total', { protocol: 'imap' })).toBe(1);
    expect(d('haven_commands_total', { protocol: 'imap', result: 'no' })).toBe(1);
    expect(d('haven_commands_total', { protocol: 'imap', result: 'bad' })).toBe(1);
    expect(d('haven_commands_total', { protocol: 'imap', result: 'ok' })).toBe(2);
    expect(d('haven_failed_logins_total')).toBe(2);
    expect(d('haven_http_requests_total', { area: 'dav', status: '4xx' })).toBe(1);
    expect(d('haven_http_requests_total', { area: 'metrics', status: '2xx' })).toBe(1);
  });

  it('counts POP3 connections, commands and failed logins', async () => {
    const before = await scrape();
    const { sock, waitFor } = converse(pop3.port);
    await waitFor(/^\+OK/m);
    sock.write('USER bob@example.test\r\nPASS not-his-password\r\n');
    await waitFor(/^-ERR/m);
    sock.write('QUIT\r\n');
    await waitFor(/\+OK[^\n]*\n[\s\S]*\+OK[^\n]*\n[\s\S]*-ERR[^\n]*\n[\s\S]*\+OK/);
    sock.destroy();
    const after = await scrape();
    const d = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(d('haven_connections_total', { protocol: 'pop3' })).toBe(1);
    expect(d('haven_commands_total', { protocol: 'pop3', result: 'ok' })).toBe(2);
    expect(d('haven_commands_total', { protocol: 'pop3', result: 'no' })).toBe(1);
    expect(d('haven_failed_logins_total')).toBe(1);
  });
});
