/**
 * @module test/tls/pebble
 * Runs Debian's Pebble (a real ACME CA for tests) on loopback, with
 * pebble-challtestsrv as its DNS so every name resolves to 127.0.0.1 and
 * HTTP-01 validation reaches the test's own HTTP server. CI installs the
 * `pebble` Debian package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSelfSignedCertificate } from '../../node/tls/index.js';
import { freePort } from '../helpers/ports.js';

export interface Pebble {
  directoryUrl: string;
  /** Pebble's own HTTPS certificate, to trust for the directory. */
  tlsCa: string;
  /** pebble-challtestsrv's DNS server (what Pebble resolves and dns-01 validates against). */
  dns: { host: string; port: number };
  /** pebble-challtestsrv's management API (POST /set-txt, /clear-txt). */
  challtestsrvUrl: string;
  /** The root that signs issued certificates (new on every Pebble start). */
  issuerRoot(): Promise<string>;
  stop(): void;
}

function waitForLine(child: ChildProcess, pattern: RegExp, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (pattern.test(out)) {
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => reject(new Error(`${name} did not start (${err.message}); install it: apt-get install -y pebble`)));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready:\n${out}`)));
  });
}

/** Starts Pebble whose HTTP-01 validations connect to 127.0.0.1:`httpPort`. */
export async function startPebble(httpPort: number): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-pebble-'));
  const [listen, mgmt, dns, dnsMgmt, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const own = await createSelfSignedCertificate();
  writeFileSync(join(dir, 'cert.pem'), own.certPem);
  writeFileSync(join(dir, 'key.pem'), own.keyPem);
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const children: ChildProcess[] = [];
  const stop = () => {
    for (const c of children) if (c.exitCode === null) c.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const dnsSrv = spawn('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dns}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsMgmt}`, '-defaultIPv6', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(dnsSrv);
    await waitForLine(dnsSrv, /Starting management server/, 'pebble-challtestsrv');
    const pebble = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // No random sleeps, no random nonce rejections, validate every order afresh.
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    });
    children.push(pebble);
    await waitForLine(pebble, /Listening on: /, 'pebble');
  } catch (err) {
    stop();
    throw err;
  }
  return {
    directoryUrl: `https://127.0.0.1:${listen}/dir`,
    dns: { host: '127.0.0.1', port: dns },
    challtestsrvUrl: `http://127.0.0.1:${dnsMgmt}`,
    tlsCa: own.certPem,
    issuerRoot: () =>
      new Promise((resolve, reject) => {
        https
          .get(`https://127.0.0.1:${mgmt}/roots/0`, { ca: own.certPem }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      }),
    stop,
  };
}
