/**
 * The standby's certificates with a real ACME CA (Pebble), two real nodes
 * and a shared file replica (issue 19, gap 1):
 *
 * - the standby gets a certificate for its own name (failover.nodeHost,
 *   `<location>.<mail host>`, which the infra points at its own address)
 *   over HTTP-01 on its own ports.http (RFC 8555 §8.3) and serves it on the
 *   HTTPS listener the edge calls (STANDBY_URL): the edge's signed
 *   promotion reaches it through a client that verifies the chain and the
 *   name (RFC 6125 §6.4, RFC 9110 §4.3.4), as the Worker's fetch does;
 * - the primary carries its mail-host certificate through the replica,
 *   sealed (no PEM in any replica object), and the promoted standby serves
 *   that very certificate on IMAPS at once.
 *
 * Pebble validates HTTP-01 on one port; a small router in front sends each
 * name to the node that name points at, as DNS does in production.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFailover } from '../../edge/failover.js';
import { MemoryKv } from '../../edge/kv.js';
import { NodeApi } from '../../edge/node-api.js';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { CARRIED_CERT_KEY } from '../../node/replication/carried-cert.js';
import { FileTarget } from '../../node/replication/target.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';
import { freePort } from '../helpers/ports.js';
import { startPebble, type Pebble } from '../tls/pebble.js';

const MAIL_HOST = 'mail.ha.test';
const PRIMARY_NAME = 'nbg1.mail.ha.test';
const STANDBY_NAME = 'fsn1.mail.ha.test';
const SECRET = 'a shared admin secret, long enough for the signature';

const root = mkdtempSync(join(tmpdir(), 'haven-standby-tls-'));
const replicaDir = join(root, 'replica');
const masterKey = randomBytes(32).toString('hex');
let pebble: Pebble;
let router: http.Server;
const routes = new Map<string, number>();
const running: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  const routerPort = await freePort();
  // Each name's HTTP-01 request goes to the node its DNS name points at.
  router = http.createServer((req, res) => {
    const port = routes.get((req.headers.host ?? '').replace(/:\d+$/, ''));
    if (!port) return void res.writeHead(404).end();
    const up = http.request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => router.listen(routerPort, '127.0.0.1', r));
  pebble = await startPebble(routerPort);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: pebble.tlsCa });
}, 60_000);

afterAll(async () => {
  for (const n of running.reverse()) await n.close().catch(() => {});
  router?.close();
  pebble?.stop();
  rmSync(root, { recursive: true, force: true });
});

function config(name: string, role: 'primary' | 'standby', httpPort: number, nodeHost: string, replica = replicaDir) {
  return testConfig(join(root, name), {
    hostname: MAIL_HOST,
    dnsbl: [],
    masterKey,
    role,
    replicaUrl: pathToFileURL(replica).href,
    ports: { http: httpPort },
    admin: { secret: SECRET },
    tls: { acme: { enabled: true, directoryUrl: pebble.directoryUrl } },
    failover: { fenceCheckMs: 100, followMs: 100, nodeHost },
  });
}

/** The certificate a TLS listener presents for `servername`, verified against `ca` (rejectUnauthorized stays on). */
async function verifiedPeer(port: number, servername: string, ca: string): Promise<X509Certificate> {
  const sock = tls.connect({ host: '127.0.0.1', port, servername, ca });
  try {
    await once(sock, 'secureConnect');
    return new X509Certificate(sock.getPeerCertificate().raw);
  } finally {
    sock.destroy();
  }
}

/** Retries until the listener presents a certificate `ca` verifies for `servername` (ACME issues in the background). */
async function untilVerified(port: number, servername: string, ca: string, deadlineMs = 45_000): Promise<X509Certificate> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await verifiedPeer(port, servername, ca);
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * A fetch as the Worker's is: it verifies the server's chain (here against
 * Pebble's root, the Worker's being the public CAs) and the URL's name;
 * `names` stands in for DNS.
 */
function verifyingFetch(ca: string, names: Map<string, number>): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const port = names.get(url.hostname);
    if (!port) throw new Error(`no address for ${url.hostname}`);
    const body = init?.body ? String(init.body) : undefined;
    return new Promise<Response>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, servername: url.hostname, path: url.pathname + url.search, method: init?.method ?? 'GET', headers: { ...(init?.headers as Record<string, string>), host: url.host }, ca },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: res.headers as Record<string, string> })));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }) as typeof fetch;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

describe('standby certificates (issue 19 gap 1)', () => {
  it('the standby serves an ACME certificate for its own name to the edge, and the promoted node serves the primary\'s carried mail-host certificate', async () => {
    const aHttp = await freePort();
    const bHttp = await freePort();
    routes.set(MAIL_HOST, aHttp);
    routes.set(PRIMARY_NAME, aHttp);
    routes.set(STANDBY_NAME, bHttp);
    const issuer = await pebble.issuerRoot();

    const a: NodeHandle = await startNode(config('a', 'primary', aHttp, PRIMARY_NAME), { adminUi: false });
    running.push(a);
    await a.operations.call('domain.add', { name: 'example.org' });
    await a.operations.call('account.add', { address: 'alice@example.org', password: 'alice has a long password' });
    const mailHostCert = await untilVerified(a.ports.imaps!, MAIL_HOST, issuer);
    await a.replication!.flush(20_000);
    // The primary ships its certificate once issued: wait for the object that carries this one.
    const replica = new FileTarget(replicaDir);
    const until = Date.now() + 20_000;
    while (!(await replica.list()).some((o) => o.key === CARRIED_CERT_KEY)) {
      if (Date.now() > until) throw new Error('the primary never carried its certificate into the replica');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Sealed: no PEM, no host name, in any replica object.
    for (const f of filesUnder(replicaDir)) {
      const bytes = readFileSync(f);
      expect({ f, pem: bytes.includes('BEGIN'), host: bytes.includes(MAIL_HOST) }).toEqual({ f, pem: false, host: false });
    }

    const b: StandbyHandle = await startStandby(config('b', 'standby', bHttp, STANDBY_NAME));
    running.push(b);
    // The standby's listener, as the edge reaches it: its own name, verified.
    const own = await untilVerified(b.httpsPort!, STANDBY_NAME, issuer);
    expect(own.subjectAltName).toBe(`DNS:${STANDBY_NAME}`);
    expect(existsSync(join(root, 'b', 'tls', 'acme-node', 'cert.pem'))).toBe(true);
    // A client that checks names refuses it for the mail host: it is this node's certificate, not the primary's.
    await expect(verifiedPeer(b.httpsPort!, MAIL_HOST, issuer)).rejects.toThrow(/altnames|Hostname/i);

    // The edge's failover rule, its NodeApi and a verifying fetch: the signed promotion goes through.
    const standbyApi = new NodeApi({ baseUrl: `https://${STANDBY_NAME}`, secret: SECRET, fetch: verifyingFetch(issuer, new Map([[STANDBY_NAME, b.httpsPort!]])), timeoutMs: 60_000 });
    const outcome = await runFailover({ kv: new MemoryKv(), standby: standbyApi, afterMs: 0 }, { ok: false, status: 0, ms: 0 }, Date.now());
    expect(outcome.error).toBeUndefined();
    expect(outcome.state.promotion).toMatchObject({ promoted: true, status: 200 });

    // The promoted node presents the primary's certificate, verified for the mail host, without a CA round trip.
    const promoted = b.node()!;
    expect(promoted).not.toBeNull();
    const served = await verifiedPeer(promoted.ports.imaps!, MAIL_HOST, issuer);
    expect(served.fingerprint256).toBe(mailHostCert.fingerprint256);
    expect(promoted.certificate.source).toBe('acme');
  }, 120_000);

  it('with no certificate in the replica, the promoted node gets the mail host\'s from the CA once the Floating IPs point at it', async () => {
    const replica = join(root, 'replica-2');
    const cHttp = await freePort();
    const dHttp = await freePort();
    // The mail host's name reaches the old primary (which answers no challenge of the new one) until the addresses move.
    routes.set(MAIL_HOST, cHttp);
    routes.set(STANDBY_NAME, dHttp);
    const issuer = await pebble.issuerRoot();
    // A primary without ACME (a certificate of its own files, say): it carries nothing.
    const c: NodeHandle = await startNode(testConfig(join(root, 'c'), { hostname: MAIL_HOST, dnsbl: [], masterKey, replicaUrl: pathToFileURL(replica).href, ports: { http: cHttp }, failover: { fenceCheckMs: 100 } }), { adminUi: false });
    running.push(c);
    await c.operations.call('domain.add', { name: 'example.org' });
    await c.replication!.flush(20_000);
    expect((await new FileTarget(replica).list()).some((o) => o.key === CARRIED_CERT_KEY)).toBe(false);

    // Hetzner's API as node/failover speaks it: the assignment is what moves the traffic (here: the router's route).
    const assigned: string[] = [];
    const hetznerFetch = (async (input: string | URL | Request) => {
      const m = /\/floating_ips\/(\d+)\/actions\/assign$/.exec(String(input));
      if (!m) return new Response('{}', { status: 404 });
      assigned.push(m[1]);
      routes.set(MAIL_HOST, dHttp);
      return new Response(JSON.stringify({ action: { id: Number(m[1]), status: 'success' } }), { status: 201, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const base = config('d', 'standby', dHttp, STANDBY_NAME, replica);
    const d: StandbyHandle = await startStandby({ ...base, failover: { ...base.failover, hetznerToken: 'a token', floatingIps: ['11', '12'], hetznerServerId: '7' } }, { hetznerFetch });
    running.push(d);
    await untilVerified(d.httpsPort!, STANDBY_NAME, issuer);
    expect(await d.promote()).toMatchObject({ promoted: true });
    expect(assigned).toEqual(['11', '12']);
    // The first attempt, at start, went to the old server; the one after the move is served without a restart.
    const served = await untilVerified(d.node()!.ports.imaps!, MAIL_HOST, issuer, 60_000);
    expect(served.subjectAltName).toContain(`DNS:${MAIL_HOST}`);
  }, 120_000);
});
