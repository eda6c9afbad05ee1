/**
 * startNode on port 0 with every listener: real clients prove each one
 * accepts (nodemailer to the MX and to submission, imapflow over IMAP and
 * IMAPS, POP3 greetings, a DAV PROPFIND and /health over HTTPS, the plain
 * HTTP listener), all trusting the node's own self-signed certificate, and
 * close() releases every port.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { testConfig } from '../../node/config/index.js';
import { adminSecret, signRequest } from '../../node/http/index.js';
import { startNode, ListenError, type NodeHandle } from '../../node/main.js';
import { DataDirBusyError } from '../../node/util/data-dir-lock.js';
import type { RunnerEvent } from '../../node/smtp/index.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { connectionRefused } from '../helpers/ports.js';

const ADDRESS = 'alice@example.org';
const PASSWORD = 'alice-password-1';
const BOB = 'bob@example.org';
const BOB_PASSWORD = 'bob-password-1';
let dir: string;
let dns: TestDns;
let node: NodeHandle;
let ca: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'haven-main-'));
  dns = await startTestDns();
  node = await startNode(testConfig(join(dir, 'data'), { dnsbl: [] }), { resolver: dns.resolver, adminUi: false });
  node.store.directory.addDomain('example.org');
  await node.store.createAccount(ADDRESS, PASSWORD);
  await node.store.createAccount(BOB, BOB_PASSWORD);
  ca = readFileSync(node.certificate.certFile);
});

afterAll(async () => {
  await node?.close();
  await dns?.close();
  rmSync(dir, { recursive: true, force: true });
});

function greeting(port: number, secure: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = secure ? tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }) : net.connect({ host: '127.0.0.1', port });
    sock.once('data', (d) => {
      resolve(d.toString());
      sock.destroy();
    });
    sock.once('error', reject);
  });
}

function request(o: { port: number; method: string; path: string; secure: boolean; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const lib = o.secure ? https : http;
    const req = lib.request({ host: '127.0.0.1', port: o.port, method: o.method, path: o.path, headers: o.headers, ca, servername: 'localhost' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('startNode', () => {
  it('binds every listener on the ports the OS picked', () => {
    for (const name of ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https'] as const) {
      expect(node.ports[name], name).toBeGreaterThan(0);
    }
    expect(new Set(Object.values(node.ports)).size).toBe(Object.keys(node.ports).length);
    expect(node.fresh).toBe(true);
    expect(node.masterKey.origin).toBe('generated');
    expect(node.certificate).toMatchObject({ source: 'self-signed', created: true });
  });

  it('accepts mail on the MX and on submission (STARTTLS and implicit TLS), readable over IMAP and IMAPS', async () => {
    const mx = nodemailer.createTransport({ host: '127.0.0.1', port: node.ports.smtp, secure: false, tls: { ca, servername: 'localhost' } });
    const r1 = await mx.sendMail({ from: 'someone@outside.test', to: ADDRESS, subject: 'via the MX', text: 'hello from outside' });
    expect(r1.accepted).toEqual([ADDRESS]);

    for (const [port, secure] of [[node.ports.submission!, false], [node.ports.submissions!, true]] as const) {
      const sub = nodemailer.createTransport({ host: '127.0.0.1', port, secure, requireTLS: !secure, auth: { user: ADDRESS, pass: PASSWORD }, tls: { ca, servername: 'localhost' } });
      const r = await sub.sendMail({ from: ADDRESS, to: ADDRESS, subject: `via submission ${port}`, text: 'hello from me' });
      expect(r.accepted).toEqual([ADDRESS]);
    }

    for (const [port, secure] of [[node.ports.imap!, false], [node.ports.imaps!, true]] as const) {
      const client = new ImapFlow({ host: '127.0.0.1', port, secure, auth: { user: ADDRESS, pass: PASSWORD }, tls: { ca, servername: 'localhost' }, logger: false });
      await client.connect();
      const lock = await client.getMailboxLock('INBOX');
      const subjects: string[] = [];
      for await (const m of client.fetch('1:*', { envelope: true })) subjects.push(m.envelope!.subject!);
      lock.release();
      await client.logout();
      expect(subjects.sort()).toEqual(['via submission ' + node.ports.submission, 'via submission ' + node.ports.submissions, 'via the MX'].sort());
    }
  });

  it('greets on POP3 and POP3S', async () => {
    expect(await greeting(node.ports.pop3!, false)).toMatch(/^\+OK /);
    expect(await greeting(node.ports.pop3s!, true)).toMatch(/^\+OK /);
  });

  it('answers a DAV PROPFIND, /health over HTTPS and plain HTTP', async () => {
    const auth = 'Basic ' + Buffer.from(`${ADDRESS}:${PASSWORD}`).toString('base64');
    const pf = await request({
      port: node.ports.https!,
      method: 'PROPFIND',
      path: '/dav/',
      secure: true,
      headers: { Authorization: auth, Depth: '0', 'Content-Type': 'application/xml' },
      body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>',
    });
    expect(pf.status).toBe(207);
    expect(pf.body).toMatch(/current-user-principal>\s*<[^>]*href>[^<]*alice/i);
    // Discovery from the bare URL `haven start` prints, as CalDAV/CardDAV clients do it (RFC 6764).
    for (const wk of ['/.well-known/caldav', '/.well-known/carddav']) {
      const r = await request({ port: node.ports.https!, method: 'PROPFIND', path: wk, secure: true, headers: { Authorization: auth, Depth: '0' } });
      expect([301, 302, 307, 308], wk).toContain(r.status);
      expect(r.headers.location, wk).toMatch(/\/dav\/?$/);
    }

    const health = await request({ port: node.ports.https!, method: 'GET', path: '/health', secure: true });
    const h = JSON.parse(health.body) as { listeners: Record<string, boolean>; store: { ok: boolean } };
    expect(h.store.ok).toBe(true);
    for (const name of ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'https']) expect(h.listeners[name], name).toBe(true);

    const plain = await request({ port: node.ports.http!, method: 'GET', path: '/.well-known/acme-challenge/unknown-token', secure: false });
    expect(plain.status).toBe(404);
  });

  it('tells mail clients (Thunderbird autoconfig) the ports this node really listens on', async () => {
    const r = await request({
      port: node.ports.https!,
      method: 'GET',
      path: '/mail/config-v1.1.xml?emailaddress=' + encodeURIComponent(ADDRESS),
      secure: true,
      headers: { Host: `autoconfig.${ADDRESS.split('@')[1]}` },
    });
    expect(r.status).toBe(200);
    const port = (type: string) => Number(new RegExp(`<incomingServer type="${type}">[\\s\\S]*?<port>(\\d+)</port>`).exec(r.body)?.[1]);
    expect(port('imap')).toBe(node.ports.imaps);
    expect(r.body).toContain(`<port>${node.ports.submissions}</port>`);
  });

  it('sends DAV scheduling invitations as DKIM-signed mail: local attendees at once, others through the queue', async () => {
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//Haven test//EN',
      'BEGIN:VEVENT',
      'UID:main-wiring-1@example.org',
      'DTSTAMP:20260101T000000Z',
      'DTSTART:20270315T140000Z',
      'DTEND:20270315T150000Z',
      'SUMMARY:Wiring review',
      `ORGANIZER:mailto:${ADDRESS}`,
      `ATTENDEE;PARTSTAT=ACCEPTED:mailto:${ADDRESS}`,
      `ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:${BOB}`,
      'ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:carol@remote.test',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    // The outside attendee goes through the queue: its runner reports the attempt (remote.test has no MX here).
    const attempted = new Promise<RunnerEvent>((resolve) => {
      const on = (e: RunnerEvent) => {
        if (e.type === 'result' && e.rcpt === 'carol@remote.test') {
          node.queueRunner.events.off('event', on);
          resolve(e);
        }
      };
      node.queueRunner.events.on('event', on);
    });
    const put = await request({
      port: node.ports.https!,
      method: 'PUT',
      path: `/dav/calendars/${ADDRESS}/default/wiring.ics`,
      secure: true,
      headers: { Authorization: 'Basic ' + Buffer.from(`${ADDRESS}:${PASSWORD}`).toString('base64'), 'Content-Type': 'text/calendar; charset=utf-8' },
      body: ics,
    });
    expect(put.status).toBe(201);
    expect((await attempted).type).toBe('result');

    const client = new ImapFlow({ host: '127.0.0.1', port: node.ports.imaps!, secure: true, auth: { user: BOB, pass: BOB_PASSWORD }, tls: { ca, servername: 'localhost' }, logger: false });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    const raws: string[] = [];
    for await (const m of client.fetch('1:*', { source: true })) raws.push(m.source!.toString());
    lock.release();
    await client.logout();
    expect(raws).toHaveLength(1);
    expect(raws[0]).toMatch(/^DKIM-Signature: [^]*d=example\.org/);
    expect(raws[0]).toMatch(/method=REQUEST/i);
    expect(raws[0]).toContain('Wiring review');
  });

  it('serves the doctor report on the signed admin API', async () => {
    const path = '/api/v1/doctor';
    const headers = await signRequest(adminSecret(node.config).secret, { method: 'GET', path });
    const r = await request({ port: node.ports.https!, method: 'GET', path, secure: true, headers });
    // Which branch depends on the machine: without public addresses on its interfaces the doctor
    // cannot know what DNS should say, and says so; with them it returns its checks.
    expect([200, 409], r.body).toContain(r.status);
    const body = JSON.parse(r.body) as { error?: string; checks?: { id: string; status: string }[] };
    if (r.status === 409) expect(body.error).toMatch(/^no public IPv[46] address on this machine's interfaces/);
    else expect(body.checks!.map((c) => c.id)).toContain('queue');
    const unsigned = await request({ port: node.ports.https!, method: 'GET', path, secure: true });
    expect(unsigned.status).toBe(401);
  });

  it('refuses to start on a port in use, naming the option, and leaves nothing open', async () => {
    const other = mkdtempSync(join(tmpdir(), 'haven-main-busy-'));
    try {
      const cfg = testConfig(join(other, 'data'), { dnsbl: [], ports: { imap: node.ports.imap } });
      const err = await startNode(cfg, { resolver: dns.resolver, adminUi: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ListenError);
      expect((err as Error).message).toBe(`imap: port ${node.ports.imap} is already in use (another Haven or mail server?): stop it, or choose another port with ports.imap / HAVEN_PORTS_IMAP`);
      // The failed node closed its store: the directory opens again at once.
      const again = await startNode(testConfig(join(other, 'data'), { dnsbl: [] }), { resolver: dns.resolver, adminUi: false });
      expect(again.fresh).toBe(false);
      await again.close();
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('haven status sees the running node and what it holds', async () => {
    const io = memoryIo({ env: { HAVEN_DATA_DIR: join(dir, 'data'), HAVEN_MASTER_KEY_FILE: join(dir, 'data', 'master.key') } });
    expect(await runCli(['status', '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout[0])).toMatchObject({ nodePid: process.pid, initialised: true, domains: 1, accounts: 2 });
  });

  it('refuses a second node on the same data directory', async () => {
    const err = await startNode(testConfig(join(dir, 'data'), { dnsbl: [] }), { resolver: dns.resolver, adminUi: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirBusyError);
    expect((err as Error).message).toMatch(/^a Haven node \(pid \d+\) is already running on .*data; stop it first/);
    // The running node is untouched: still serving.
    expect(await connectionRefused(node.ports.imap!)).toBe(false);
  });

  it('takes over a lock left by a node that died (SIGKILL, power loss)', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    mkdirSync(join(dir, 'data3'), { recursive: true });
    writeFileSync(join(dir, 'data3', 'node.pid'), `${dead}\n`);
    const n = await startNode(testConfig(join(dir, 'data3'), { dnsbl: [] }), { resolver: dns.resolver, adminUi: false });
    expect(readFileSync(join(dir, 'data3', 'node.pid'), 'utf8').trim()).toBe(String(process.pid));
    await n.close();
  });

  it('close() stops every listener', async () => {
    // With the local admin UI this time, so its listener is shown to close too.
    const second = await startNode(testConfig(join(dir, 'data2'), { dnsbl: [] }), { resolver: dns.resolver });
    expect(second.ports.admin).toBeGreaterThan(0);
    expect(second.admin?.url).toBe(`http://127.0.0.1:${second.ports.admin}/`);
    const ports = Object.values(second.ports);
    expect(ports).toHaveLength(11);
    expect(await connectionRefused(second.ports.imap!)).toBe(false);
    expect(readFileSync(join(dir, 'data2', 'node.pid'), 'utf8').trim()).toBe(String(process.pid));

    // Sessions still open at shutdown (an IMAP client in IDLE, a POP3 and an SMTP connection) do not hold it up.
    second.store.directory.addDomain('example.net');
    await second.store.createAccount('dora@example.net', 'dora-password-1');
    const idler = new ImapFlow({ host: '127.0.0.1', port: second.ports.imap!, secure: false, auth: { user: 'dora@example.net', pass: 'dora-password-1' }, tls: { ca: readFileSync(second.certificate.certFile), servername: 'localhost' }, logger: false });
    idler.on('error', () => undefined);
    await idler.connect();
    await idler.mailboxOpen('INBOX');
    const idling = idler.idle().catch(() => undefined);
    const idlerClosed = new Promise<void>((resolve) => idler.once('close', () => resolve()));
    const raw = [second.ports.pop3!, second.ports.smtp!].map((port) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      return { greeted: new Promise<void>((resolve) => s.once('data', () => resolve())), closed: new Promise<void>((resolve) => s.once('close', () => resolve())) };
    });
    await Promise.all(raw.map((r) => r.greeted));

    await second.close();
    for (const p of ports) expect(await connectionRefused(p!), `port ${p}`).toBe(true);
    await idlerClosed;
    await idling;
    await Promise.all(raw.map((r) => r.closed));
    expect(existsSync(join(dir, 'data2', 'node.pid'))).toBe(false);
  });
});
