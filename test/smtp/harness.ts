/**
 * @module test/smtp/harness
 * Shared fixtures for the SMTP suites: a real encrypted store, the loopback
 * DNS server, Haven's listeners on port 0, a second real smtp-server playing
 * the remote MX (verifying what it receives with mailauth against the same
 * DNS), and small clients (nodemailer, and a raw socket for transcripts).
 */
import { createSecureContext } from 'node:tls';
import net from 'node:net';
import { authenticate, type AuthenticateResult } from 'mailauth';
import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { Store } from '../../node/store/index.js';
import { startSmtp, type QueueRunner, type RunnerEvent, type SmtpDeps } from '../../node/smtp/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';

export const HOST = 'mx.haven.test';

export function tlsDeps() {
  const { key, cert } = testTls();
  return { secureContext: () => createSecureContext({ key, cert, minVersion: 'TLSv1.2' }) };
}

export function baseDeps(store: Store, dns: TestDns, extra: Partial<SmtpDeps> = {}): SmtpDeps {
  return {
    store,
    log: silentLogger,
    authLimiter: new AuthLimiter({ stepDelayMs: 1, maxDelayMs: 5 }),
    tls: tlsDeps(),
    hostname: HOST,
    resolver: dns.resolver,
    spam: { dnsbl: [] },
    ...extra,
  };
}

/** Publishes SPF, DKIM and DMARC for a domain we host, as the Pulumi program would. */
export function publishDomain(dns: TestDns, store: Store, domain: string, dmarc = 'v=DMARC1; p=reject'): void {
  dns.add(domain, { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ exchange: HOST, priority: 10 }] });
  for (const k of store.directory.dkimKeys(domain)) {
    dns.add(`${k.selector}._domainkey.${domain}`, { TXT: [`v=DKIM1; k=${k.algorithm}; p=${k.publicKeyDns}`] });
  }
  dns.add(`_dmarc.${domain}`, { TXT: [dmarc] });
}

export interface Received {
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  auth: AuthenticateResult;
  remoteAddress: string;
  secure: boolean;
}

export interface RemoteMx {
  port: number;
  received: Received[];
  /** Decide the reply per transaction; default accept. Return an error to refuse DATA. */
  onData: (n: number, raw: Buffer) => { code: number; message: string } | null;
  /** Refuse particular recipients at RCPT. */
  onRcpt: (rcpt: string) => { code: number; message: string } | null;
  /** Resolves when `count` messages have been accepted. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

/** A second, independent SMTP server on loopback standing in for someone else's MX. */
export async function startRemoteMx(dns: TestDns, hostname = 'mx.remote.test'): Promise<RemoteMx> {
  const waiters: { count: number; resolve: () => void }[] = [];
  let transactions = 0;
  const mx: RemoteMx = {
    port: 0,
    received: [],
    onData: () => null,
    onRcpt: () => null,
    waitFor(count) {
      if (mx.received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const { key, cert } = testTls();
  const server = new SMTPServer({
    name: hostname,
    key,
    cert,
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH'],
    hideENHANCEDSTATUSCODES: false,
    onRcptTo(address, _session, cb) {
      const r = mx.onRcpt(address.address);
      if (!r) return cb();
      const err = Object.assign(new Error(r.message), { responseCode: r.code });
      cb(err);
    },
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        const n = ++transactions;
        const refuse = mx.onData(n, raw);
        if (refuse) return cb(Object.assign(new Error(refuse.message), { responseCode: refuse.code }));
        const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const auth = await authenticate(raw, {
          ip: session.remoteAddress.replace(/^::ffff:/, ''),
          helo: session.hostNameAppearsAs,
          sender: mailFrom,
          mta: hostname,
          resolver: dns.resolver,
          disableBimi: true,
        });
        mx.received.push({ mailFrom, rcptTo: session.envelope.rcptTo.map((r) => r.address), raw, auth, remoteAddress: session.remoteAddress, secure: session.secure });
        for (const w of [...waiters]) if (mx.received.length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  mx.port = (server.server.address() as net.AddressInfo).port;
  return mx;
}

export async function startMx(deps: SmtpDeps) {
  return startSmtp(deps, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' });
}

/** The hostile-input suites' MX: one account, alice@example.test (password MX_PASSWORD), its domain published, sender.test's SPF passing for 127.0.0.1. */
export const MX_PASSWORD = 'correct horse battery';

export interface MxFixture {
  t: TestStore;
  store: Store;
  dns: TestDns;
  mx: { port: number; close(): Promise<void> };
  close(): Promise<void>;
}

export async function startMxFixture(extra: Partial<SmtpDeps> = {}, zone: (dns: TestDns) => void = () => undefined, opts: Parameters<typeof makeTestStore>[0] = {}): Promise<MxFixture> {
  const t = makeTestStore(opts);
  const dns = await startTestDns();
  await addAccount(t.store, 'alice@example.test', MX_PASSWORD);
  publishDomain(dns, t.store, 'example.test');
  dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
  zone(dns);
  const mx = await startMx(baseDeps(t.store, dns, extra));
  return {
    t,
    store: t.store,
    dns,
    mx,
    async close() {
      await mx.close();
      await dns.close();
      t.cleanup();
    },
  };
}

/** Resolves with the first runner event that matches. */
export function waitEvent(runner: QueueRunner, pred: (e: RunnerEvent) => boolean): Promise<RunnerEvent> {
  return new Promise((resolve) => {
    const on = (e: RunnerEvent) => {
      if (!pred(e)) return;
      runner.events.off('event', on);
      resolve(e);
    };
    runner.events.on('event', on);
  });
}

/** Raw messages in an account's folder (logging in drains its sealed spool). */
export async function folderRaws(store: Store, address: string, password: string, folder = 'INBOX'): Promise<string[]> {
  const lease = await store.authenticate(address, password);
  try {
    const f = lease.mailbox.folders.require(folder);
    return lease.mailbox.messages.list(f.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString('utf8'));
  } finally {
    lease.release();
  }
}

/** nodemailer transport to one of our listeners. */
export function client(port: number, opts: { secure?: boolean; auth?: { user: string; pass: string }; ignoreTLS?: boolean; requireTLS?: boolean } = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: opts.secure ?? false,
    ignoreTLS: opts.ignoreTLS,
    requireTLS: opts.requireTLS,
    auth: opts.auth,
    tls: { rejectUnauthorized: false },
    name: 'client.remote.test',
  });
}

/**
 * A raw SMTP conversation: `send` writes bytes, `reply` waits for the next
 * complete reply (multi-line aware) and returns it.
 */
export async function rawSession(port: number, host = '127.0.0.1') {
  const sock = net.connect(port, host);
  let buf = '';
  const waiters: ((s: string) => void)[] = [];
  const replies: string[] = [];
  const pump = () => {
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(buf);
      if (!m) return;
      buf = buf.slice(m[0].length);
      const w = waiters.shift();
      if (w) w(m[0]);
      else replies.push(m[0]);
    }
  };
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    pump();
  });
  let closed = false;
  sock.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w('');
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  const reply = () => (replies.length ? Promise.resolve(replies.shift()!) : closed ? Promise.resolve('') : new Promise<string>((r) => waiters.push(r)));
  return {
    send: (s: string | Buffer) => sock.write(s),
    reply,
    async cmd(s: string) {
      sock.write(s + '\r\n');
      return reply();
    },
    close: () => sock.destroy(),
  };
}
