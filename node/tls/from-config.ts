/**
 * @module node/tls/from-config
 * The node's certificates as the config describes them: operator files,
 * ACME (http-01 or dns-01) with its files under <dataDir>/tls/acme, or the
 * local self-signed certificate.
 */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { AcmeManager, CloudflareDns01Solver, Http01Responder, type ChallengeSolver, type Dns01Options } from './acme.js';
import { CloudflareDns } from './cloudflare.js';
import { ensureLocalCertificate } from './self-signed.js';
import { CertificateStore } from './store.js';

export interface OpenedCertificates {
  store: CertificateStore;
  certFile: string;
  keyFile: string;
  /** 'files': tls.certFile/keyFile; 'acme': the stored ACME certificate; 'self-signed': made or reused in <dataDir>/tls. */
  source: 'files' | 'acme' | 'self-signed';
  /** A self-signed certificate was made on this start. */
  created: boolean;
  /**
   * With tls.acme.enabled: call `acme.start()` once ports.http serves
   * `responder` (http-01), or at once (dns-01); it issues when due, then
   * checks every 12 hours.
   */
  acme?: AcmeManager;
}

export interface OpenCertificateOptions {
  /** The challenge map the node's plain HTTP server serves (ACME http-01 only). */
  responder?: Http01Responder;
  /** Cloudflare API root (ACME dns-01 only); a local stand-in in tests. */
  cloudflareApiBase?: string;
  /** How dns-01 waits for its TXT record to be visible. */
  dns01?: Dns01Options;
  /** Extra CA for the ACME directory's HTTPS (a private CA, Pebble in tests). */
  acmeDirectoryCa?: string;
  /** First poll delay while the CA validates, ms. */
  acmePollMs?: number;
  /**
   * Names the ACME certificate should also cover when they can be proved,
   * asked at every check: mta-sts.<domain>, autoconfig.<domain> and
   * autodiscover.<domain> point at the node, which serves them over HTTPS.
   */
  extraNames?: () => readonly string[];
}

/** Where the ACME account, certificate and key live. */
export function acmeDir(config: Config): string {
  return join(config.dataDir, 'tls', 'acme');
}

/** The web names node/dns points at the mail host for each mail domain, which the node serves over HTTPS. */
export function webNamesFor(domains: readonly string[]): string[] {
  return domains.flatMap((d) => ['mta-sts', 'autoconfig', 'autodiscover'].map((p) => `${p}.${d.toLowerCase()}`));
}

/** The AcmeManager the config describes (tls.acme.*), with its challenge solver. */
export function acmeManagerFor(config: Config, opts: OpenCertificateOptions = {}): AcmeManager {
  let solver: ChallengeSolver;
  if (config.tls.acme.challenge === 'dns-01') {
    solver = new CloudflareDns01Solver(new CloudflareDns({ token: config.tls.acme.cloudflareToken, apiBase: opts.cloudflareApiBase }), opts.dns01);
  } else {
    solver = opts.responder ?? new Http01Responder();
  }
  return new AcmeManager({
    directoryUrl: config.tls.acme.directoryUrl,
    email: config.tls.acme.email || undefined,
    domains: [config.hostname],
    extraDomains: opts.extraNames,
    dir: acmeDir(config),
    solver,
    renewDaysBefore: config.tls.acme.renewDaysBefore,
    directoryCa: opts.acmeDirectoryCa,
    pollMs: opts.acmePollMs,
  });
}

/**
 * The store the node's listeners share, chosen from the config: the given
 * files when tls.certFile is set; with tls.acme.enabled the stored ACME
 * certificate, or the self-signed one until the first issuance; otherwise the
 * self-signed certificate in <dataDir>/tls (made on first run). Files are
 * watched for replacement.
 */
export async function openCertificateStore(config: Config, opts: OpenCertificateOptions = {}): Promise<OpenedCertificates> {
  if (config.tls.certFile) {
    const store = await CertificateStore.fromFiles(config.tls.certFile, config.tls.keyFile, { watch: true });
    return { store, certFile: config.tls.certFile, keyFile: config.tls.keyFile, source: 'files', created: false };
  }
  let acme: AcmeManager | undefined;
  if (config.tls.acme.enabled) {
    acme = acmeManagerFor(config, opts);
    const issued = acme.current();
    if (issued) {
      const store = await CertificateStore.fromFiles(issued.certFile, issued.keyFile, { watch: true });
      acme.attachStore(store);
      return { store, certFile: issued.certFile, keyFile: issued.keyFile, source: 'acme', created: false, acme };
    }
  }
  const local = await ensureLocalCertificate(join(config.dataDir, 'tls'), { hostname: config.hostname });
  const store = await CertificateStore.fromFiles(local.certFile, local.keyFile, { watch: true });
  acme?.attachStore(store);
  return { store, certFile: local.certFile, keyFile: local.keyFile, source: 'self-signed', created: local.created, acme };
}
