/**
 * @module test/tls/node-acme
 * The whole node (startNode) with tls.acme.enabled against Pebble: at start
 * it gets a certificate over HTTP-01 on its own plain listener that covers
 * the mail host and the web names of its mail domains (mta-sts.,
 * autoconfig., autodiscover.<domain>, which it serves over HTTPS), and its
 * TLS listeners present it without a restart.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import * as acme from 'acme-client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { loggerOptions } from '../../node/util/log.js';
import { startPebble, type Pebble } from './pebble.js';
import { freePort } from '../helpers/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'haven-node-acme-'));
const dataDir = join(dir, 'data');
let pebble: Pebble;
let httpPort: number;
let node: NodeHandle | undefined;

beforeAll(async () => {
  httpPort = await freePort();
  pebble = await startPebble(httpPort);
  // The node's ACME client must trust Pebble's directory (a private CA, as tls.acme.directoryUrl may name).
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: pebble.tlsCa });
  // A node that already has a mail domain.
  const first = await startNode(testConfig(dataDir, { hostname: 'mail.node.test', dnsbl: [] }), { adminUi: false });
  first.store.directory.addDomain('example.org');
  await first.close();
}, 60_000);

afterAll(async () => {
  await node?.close();
  pebble?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves once <acme dir>/cert.pem holds a certificate (written by the node's AcmeManager). */
function issuedCertificate(acmeDir: string): Promise<X509Certificate> {
  mkdirSync(acmeDir, { recursive: true, mode: 0o700 });
  return new Promise((resolve) => {
    const check = () => {
      const file = join(acmeDir, 'cert.pem');
      if (!existsSync(file)) return false;
      try {
        resolve(new X509Certificate(readFileSync(file)));
        return true;
      } catch {
        return false; // half written: the rename that completes it is another event
      }
    };
    const w = watch(acmeDir, () => {
      if (check()) w.close();
    });
  });
}

describe('startNode with ACME', () => {
  it('issues at start for the host and the domains\' web names, served by every TLS listener at once', async () => {
    const config = testConfig(dataDir, { hostname: 'mail.node.test', dnsbl: [], ports: { http: httpPort }, tls: { acme: { enabled: true, directoryUrl: pebble.directoryUrl } } });
    const issued = issuedCertificate(join(dataDir, 'tls', 'acme'));
    const logged: { msg: string; names?: string }[] = [];
    const log = pino(loggerOptions('info'), { write: (line: string) => void logged.push(JSON.parse(line)) });
    node = await startNode(config, { adminUi: false, log });
    expect(node.certificate.source).toBe('self-signed');
    const cert = await issued;
    expect(cert.subjectAltName).toBe('DNS:mail.node.test, DNS:mta-sts.example.org, DNS:autoconfig.example.org, DNS:autodiscover.example.org');
    expect(logged.find((l) => l.msg === 'installed a new ACME certificate')?.names).toBe(cert.subjectAltName);

    const root = await pebble.issuerRoot();
    for (const [port, servername] of [[node.ports.imaps!, 'mail.node.test'], [node.ports.https!, 'mta-sts.example.org'], [node.ports.submissions!, 'mail.node.test']] as const) {
      const sock = tls.connect({ host: '127.0.0.1', port, servername, ca: root });
      await once(sock, 'secureConnect');
      expect({ port, authorized: sock.authorized, fp: sock.getPeerCertificate().fingerprint256 }).toEqual({ port, authorized: true, fp: cert.fingerprint256 });
      sock.destroy();
    }
  }, 60_000);
});
