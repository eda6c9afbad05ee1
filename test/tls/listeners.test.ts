/**
 * @module test/tls/listeners
 * Every listener takes its certificate from one CertificateStore per
 * handshake: after an ACME issuance and a renewal from a real CA (Pebble),
 * IMAPS, IMAP STARTTLS, POP3S, SMTP (465 and STARTTLS on the MX) and DAV
 * over HTTPS present the new certificate to new connections, with and
 * without SNI, while IMAP sessions opened before keep working.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDavServer } from '../../node/dav/server.js';
import { startImap } from '../../node/imap/index.js';
import { startPop3 } from '../../node/pop3/index.js';
import { startSmtp } from '../../node/smtp/index.js';
import { AcmeManager, CertificateStore, createSelfSignedCertificate, Http01Responder, type CertificatePair } from '../../node/tls/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';
import { startPebble, type Pebble } from './pebble.js';

const HOST = 'mail.haven.test';
const dir = mkdtempSync(join(tmpdir(), 'haven-tls-listeners-'));
const responder = new Http01Responder();
let httpServer: http.Server;
let pebble: Pebble;
let local: CertificatePair;
let store: CertificateStore;
let t: TestStore;
let account: { address: string; password: string };
const closers: (() => Promise<void>)[] = [];
const ports = { imaps: 0, imap: 0, pop3s: 0, smtps: 0, mx: 0, dav: 0 };

beforeAll(async () => {
  httpServer = http.createServer((req, res) => {
    if (!responder.handle(req, res)) res.writeHead(404).end();
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  pebble = await startPebble((httpServer.address() as net.AddressInfo).port);

  local = await createSelfSignedCertificate({ hostname: HOST });
  store = new CertificateStore(local.certPem, local.keyPem);
  t = makeTestStore();
  account = await addAccount(t.store, 'alice@haven.test');
  const base = { store: t.store, log: silentLogger, authLimiter: new AuthLimiter({ stepDelayMs: 0 }), tls: store, hostname: HOST };
  const host = '127.0.0.1';
  const imaps = await startImap({ ...base, allowPlaintextOnLoopback: true }, { host, port: 0, implicitTls: true });
  const imap = await startImap({ ...base, allowPlaintextOnLoopback: true }, { host, port: 0, implicitTls: false });
  const pop3s = await startPop3(base, { host, port: 0, implicitTls: true });
  const smtps = await startSmtp({ ...base, spam: { dnsbl: [] } }, { host, port: 0, implicitTls: true, mode: 'submission' });
  const mx = await startSmtp({ ...base, spam: { dnsbl: [] } }, { host, port: 0, implicitTls: false, mode: 'mx' });
  const dav = await startDavServer(base, { host, port: 0, implicitTls: true });
  Object.assign(ports, { imaps: imaps.port, imap: imap.port, pop3s: pop3s.port, smtps: smtps.port, mx: mx.port, dav: dav.port });
  closers.push(() => imaps.close(), () => imap.close(), () => pop3s.close(), () => smtps.close(), () => mx.close(), () => dav.close());
});

afterAll(async () => {
  for (const c of closers) await c();
  httpServer?.close();
  pebble?.stop();
  store?.close();
  t?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads from a socket until `pred` holds for what arrived. */
async function readUntil(sock: net.Socket, pred: (s: string) => boolean): Promise<string> {
  let buf = '';
  while (!pred(buf)) {
    const [chunk] = (await once(sock, 'data')) as [Buffer];
    buf += chunk.toString();
  }
  return buf;
}

async function handshake(opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const sock = tls.connect({ rejectUnauthorized: false, ...opts });
  await once(sock, 'secureConnect');
  return sock;
}

/**
 * The fingerprint a new connection to each listener sees; `sni` false
 * connects as clients of a bare IP do. Each probe reads a reply over TLS
 * before leaving, so the server finished its side of the handshake too.
 */
async function presented(sni: boolean): Promise<Record<string, string>> {
  const servername = sni ? HOST : undefined;
  const host = '127.0.0.1';
  const out: Record<string, string> = {};
  const implicit = [
    ['imaps', ports.imaps, '', (b: string) => b.includes('* OK')],
    ['pop3s', ports.pop3s, '', (b: string) => b.startsWith('+OK')],
    ['smtps', ports.smtps, '', (b: string) => /^220 /m.test(b)],
    ['dav', ports.dav, 'OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', (b: string) => b.startsWith('HTTP/1.1 ')],
  ] as const;
  for (const [name, port, send, done] of implicit) {
    const s = await handshake({ host, port, servername });
    out[name] = s.getPeerCertificate().fingerprint256;
    if (send) s.write(send);
    await readUntil(s, done);
    s.destroy();
  }
  // STARTTLS upgrades: IMAP and the SMTP MX.
  const imap = net.connect(ports.imap, host);
  await readUntil(imap, (b) => b.includes('\r\n'));
  imap.write('a STARTTLS\r\n');
  await readUntil(imap, (b) => b.includes('a OK'));
  const imapTls = await handshake({ socket: imap, servername });
  out.imap = imapTls.getPeerCertificate().fingerprint256;
  imapTls.write('b LOGOUT\r\n');
  await readUntil(imapTls, (b) => b.includes('b OK'));
  imapTls.destroy();
  const smtp = net.connect(ports.mx, host);
  await readUntil(smtp, (b) => /^220 /m.test(b));
  smtp.write('EHLO probe.test\r\n');
  await readUntil(smtp, (b) => /^250 /m.test(b));
  smtp.write('STARTTLS\r\n');
  await readUntil(smtp, (b) => /^220 /m.test(b));
  const smtpTls = await handshake({ socket: smtp, servername });
  out.mx = smtpTls.getPeerCertificate().fingerprint256;
  smtpTls.write('QUIT\r\n');
  await readUntil(smtpTls, (b) => /^221 /m.test(b));
  smtpTls.destroy();
  return out;
}

function allEqual(seen: Record<string, string>, fingerprint: string): void {
  expect(Object.keys(seen).sort()).toEqual(['dav', 'imap', 'imaps', 'mx', 'pop3s', 'smtps']);
  for (const [name, fp] of Object.entries(seen)) expect({ name, fp }).toEqual({ name, fp: fingerprint });
}

async function imapClient(ca: string): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: ports.imaps, secure: true, auth: { user: account.address, pass: account.password }, logger: false, tls: { ca, servername: HOST } });
  await c.connect();
  return c;
}

describe('certificate renewal reaches every listener without a restart', () => {
  it('new connections see each new certificate; IMAPS sessions opened before keep working', async () => {
    const selfSigned = new X509Certificate(local.certPem).fingerprint256;
    allEqual(await presented(true), selfSigned);

    // A logged-in IMAPS session on the self-signed certificate, verified against it.
    const oldest = await imapClient(local.certPem);
    await oldest.mailboxOpen('INBOX');

    const manager = new AcmeManager({ directoryUrl: pebble.directoryUrl, directoryCa: pebble.tlsCa, domains: [HOST], dir, solver: responder, renewDaysBefore: 30, pollMs: 50 }, store);
    expect(await manager.renewIfDue()).toBe('issued');
    const first = store.info.fingerprint256;
    expect(first).not.toBe(selfSigned);
    allEqual(await presented(true), first);
    allEqual(await presented(false), first);

    // Verified against Pebble's root: the name and the chain are right, not just the bytes.
    const root = await pebble.issuerRoot();
    const older = await imapClient(root);
    await older.mailboxOpen('INBOX');

    // Renewal: 10 days before expiry is within tls.acme.renewDaysBefore (30).
    const validTo = new Date(store.certificate.validTo);
    expect(await manager.renewIfDue(new Date(validTo.getTime() - 10 * 86400_000))).toBe('issued');
    const second = store.info.fingerprint256;
    expect(second).not.toBe(first);
    allEqual(await presented(true), second);
    allEqual(await presented(false), second);

    const fresh = await imapClient(root);
    const freshCert = (fresh as unknown as { socket: tls.TLSSocket }).socket.getPeerCertificate();
    expect(freshCert.fingerprint256).toBe(second);

    // The sessions from before still work on the certificates they negotiated.
    for (const [client, fp] of [[oldest, selfSigned], [older, first]] as const) {
      expect((client as unknown as { socket: tls.TLSSocket }).socket.getPeerCertificate().fingerprint256).toBe(fp);
      await client.append('INBOX', `From: a@haven.test\r\nSubject: after renewal ${fp.slice(0, 8)}\r\n\r\nstill here\r\n`);
      const status = await client.status('INBOX', { messages: true });
      expect(status && status.messages).toBeGreaterThan(0);
      expect(client.usable).toBe(true);
    }
    const seen = await fresh.status('INBOX', { messages: true });
    expect(seen && seen.messages).toBe(2);
    for (const c of [oldest, older, fresh]) await c.logout();
  });
});
