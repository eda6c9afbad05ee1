/**
 * @module node/tls/renew
 * `haven certs renew` as a function. The running node calls it with its own
 * challenge responder (the CLI asks the node over its control socket), so
 * the node answers the CA on ports.http as it always does; with no node
 * running the CLI calls it and answers the CA on ports.http itself. A
 * running node picks up the new files without a restart (it watches them).
 */
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { Http01Responder } from './acme.js';
import { CertificateError } from './errors.js';
import { acmeManagerFor, type OpenCertificateOptions } from './from-config.js';
import { ensureLocalCertificate } from './self-signed.js';
import { describeCertificate, type CertificateInfo } from './store.js';

export interface RenewOptions extends OpenCertificateOptions {
  /** Issue even when the certificate is not due. */
  force?: boolean;
  now?: Date;
  /**
   * Called once ports.http is bound (or at once when it is not needed):
   * the CLI drops from root to the data directory's owner here, so port 80
   * can still be bound but the files written stay readable by the node.
   */
  afterBind?: () => void;
}

export interface RenewResult {
  /** 'issued': a new certificate; 'current': not due (nothing done); 'external': tls.certFile is managed elsewhere. */
  result: 'issued' | 'current' | 'external';
  source: 'acme' | 'self-signed' | 'files';
  certFile: string;
  info?: CertificateInfo;
  /** For http-01: who answered the CA on ports.http. */
  answeredBy?: 'this-process' | 'running-node';
}

/**
 * A plain-HTTP server on ports.http that answers only the CA's http-01
 * requests (RFC 8555 §8.3) and 404 to anything else; rejects with the
 * listen error, which each caller weighs in its own way.
 */
export async function listenHttp01(config: Config, responder: Http01Responder): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (!responder.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.ports.http, config.listenAddress, () => resolve());
  });
  return server;
}

/** Listens on ports.http for the CA, or returns null when something (the node) already does. */
async function listenForChallenges(config: Config, responder: Http01Responder): Promise<http.Server | null> {
  try {
    return await listenHttp01(config, responder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return null;
    throw new CertificateError(`cannot listen on ${config.listenAddress}:${config.ports.http} for the ACME http-01 challenge (${(err as Error).message}); run as a user allowed to bind it, or use tls.acme.challenge dns-01`);
  }
}

export async function renewCertificate(config: Config, opts: RenewOptions = {}): Promise<RenewResult> {
  if (config.tls.certFile) return { result: 'external', source: 'files', certFile: config.tls.certFile };
  if (!config.tls.acme.enabled) {
    opts.afterBind?.();
    const local = await ensureLocalCertificate(join(config.dataDir, 'tls'), { hostname: config.hostname, now: opts.now });
    return { result: local.created ? 'issued' : 'current', source: 'self-signed', certFile: local.certFile, info: describeCertificate(new X509Certificate(local.certPem)) };
  }
  const responder = opts.responder ?? new Http01Responder();
  const manager = acmeManagerFor(config, { ...opts, responder });
  const httpServer = config.tls.acme.challenge === 'http-01' ? await listenForChallenges(config, responder) : undefined;
  try {
    opts.afterBind?.();
    let result: 'issued' | 'current';
    if (opts.force) {
      await manager.issue();
      result = 'issued';
    } else {
      result = await manager.renewIfDue(opts.now);
    }
    const cur = manager.current()!;
    return {
      result,
      source: 'acme',
      certFile: cur.certFile,
      info: describeCertificate(new X509Certificate(cur.certPem)),
      ...(httpServer === undefined ? {} : { answeredBy: httpServer ? ('this-process' as const) : ('running-node' as const) }),
    };
  } finally {
    if (httpServer) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  }
}
