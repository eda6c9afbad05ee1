/**
 * @module test/tls/renew
 * `renewCertificate` (what `haven certs renew` runs) against Pebble: while
 * the node holds ports.http (node/http's plain app) it answers the CA from
 * the shared challenge directory and switches to the renewed files by
 * itself; with the port free
 * the command answers the CA on its own. Self-signed and operator-file
 * setups say what they did.
 */
import { once } from 'node:events';
import type http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdaptorServer } from '@hono/node-server';
import { testConfig } from '../../node/config/index.js';
import { plainHttpApp } from '../../node/http/index.js';
import { createSelfSignedCertificate, Http01Responder, openCertificateStore, renewCertificate, type CertificateInfo } from '../../node/tls/index.js';
import { startPebble, type Pebble } from './pebble.js';
import { freePort } from '../helpers/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'haven-renew-'));
let pebble: Pebble;
let httpPort: number;

beforeAll(async () => {
  httpPort = await freePort();
  pebble = await startPebble(httpPort);
});

afterAll(() => {
  pebble?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function config(sub: string, acme = true) {
  return testConfig(join(dir, sub), {
    hostname: 'mail.renew.test',
    ports: { http: httpPort },
    tls: { acme: { enabled: acme, directoryUrl: pebble.directoryUrl } },
  });
}

describe('haven certs renew (renewCertificate)', () => {
  it('with the node running: the node renews with its own responder, answers the CA on its port and switches to the new files', async () => {
    const cfg = config('running');
    // The node: its store, its ACME manager and node/http's plain HTTP app on ports.http.
    const responder = new Http01Responder();
    const node = await openCertificateStore(cfg, { responder, acmeDirectoryCa: pebble.tlsCa, acmePollMs: 50 });
    const served: string[] = [];
    const app = plainHttpApp({ challenges: responder, hostname: cfg.hostname, httpsPort: 443 });
    const plain = createAdaptorServer({
      fetch: async (req: Request) => {
        const res = await app.fetch(req);
        if (res.status === 200) served.push(new URL(req.url).pathname);
        return res;
      },
    }) as http.Server;
    plain.listen(httpPort, '127.0.0.1');
    await once(plain, 'listening');
    const first = once(node.acme!, 'issued') as Promise<[CertificateInfo]>;
    node.acme!.start();
    const [issued] = await first;
    expect(node.store.info.fingerprint256).toBe(issued.fingerprint256);
    const nodeServed = served.length;

    // `haven certs renew` asks the node (node/admin/control), which renews with its own responder.
    const switched = once(node.store, 'reload') as Promise<[CertificateInfo]>;
    const r = await renewCertificate(cfg, { force: true, responder, acmeDirectoryCa: pebble.tlsCa, acmePollMs: 50 });
    expect(r).toMatchObject({ result: 'issued', source: 'acme', answeredBy: 'running-node', certFile: join(cfg.dataDir, 'tls', 'acme', 'cert.pem') });
    expect(served.length).toBeGreaterThan(nodeServed); // the CA fetched the new token from the node's listener
    const [now] = await switched;
    expect(now.fingerprint256).toBe(r.info!.fingerprint256);
    expect(now.fingerprint256).not.toBe(issued.fingerprint256);

    // Not due: nothing is done.
    const again = await renewCertificate(cfg, { responder, acmeDirectoryCa: pebble.tlsCa, acmePollMs: 50 });
    expect(again).toMatchObject({ result: 'current', answeredBy: 'running-node' });
    expect(again.info!.fingerprint256).toBe(now.fingerprint256);

    node.acme!.stop();
    node.store.close();
    await new Promise<void>((resolve) => plain.close(() => resolve()));
  });

  it('with the node stopped: the command answers the CA on ports.http itself', async () => {
    const cfg = config('stopped');
    let bound = 0;
    // Where the CLI drops root: after ports.http is bound, before anything is written.
    const r = await renewCertificate(cfg, { acmeDirectoryCa: pebble.tlsCa, acmePollMs: 50, afterBind: () => void bound++ });
    expect(bound).toBe(1);
    expect(r).toMatchObject({ result: 'issued', source: 'acme', answeredBy: 'this-process' });
    expect(r.info!.subjectAltName).toBe('DNS:mail.renew.test');
    expect(r.info!.selfSigned).toBe(false);
    // The port is free again afterwards.
    const s = net.createServer().listen(httpPort, '127.0.0.1');
    await once(s, 'listening');
    s.close();
    // The next start serves it.
    const opened = await openCertificateStore(cfg, { acmeDirectoryCa: pebble.tlsCa });
    expect(opened.source).toBe('acme');
    expect(opened.store.info.fingerprint256).toBe(r.info!.fingerprint256);
    opened.store.close();
  });

  it('self-signed: made when missing, kept while valid; operator files are left alone', async () => {
    const cfg = config('local', false);
    const made = await renewCertificate(cfg);
    expect(made).toMatchObject({ result: 'issued', source: 'self-signed' });
    expect(made.info!.selfSigned).toBe(true);
    const kept = await renewCertificate(cfg);
    expect(kept).toMatchObject({ result: 'current', source: 'self-signed' });
    expect(kept.info!.fingerprint256).toBe(made.info!.fingerprint256);

    const pair = await createSelfSignedCertificate();
    writeFileSync(join(dir, 'op-cert.pem'), pair.certPem);
    writeFileSync(join(dir, 'op-key.pem'), pair.keyPem);
    const files = testConfig(join(dir, 'files'), { tls: { certFile: join(dir, 'op-cert.pem'), keyFile: join(dir, 'op-key.pem') } });
    expect(await renewCertificate(files)).toEqual({ result: 'external', source: 'files', certFile: join(dir, 'op-cert.pem') });
  });
});
