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
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { ACME_CERT_FILE, ACME_KEY_FILE } from './acme.js';
import { certificateCovers, ensureLocalCertificate, writeAtomic } from './self-signed.js';
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

/**
 * Where a node keeps the certificate for its own name (failover.nodeHost):
 * apart from the mail host's, which a promoted node takes over in
 * acmeDir(config).
 */
export function nodeHostAcmeDir(config: Config): string {
  return join(config.dataDir, 'tls', 'acme-node');
}

function solverFor(config: Config, opts: OpenCertificateOptions): ChallengeSolver {
  if (config.tls.acme.challenge === 'dns-01') {
    return new CloudflareDns01Solver(new CloudflareDns({ token: config.tls.acme.cloudflareToken, apiBase: opts.cloudflareApiBase }), opts.dns01);
  }
  return opts.responder ?? new Http01Responder();
}

/**
 * The certificate a standby serves on its HTTPS listener, where the edge
 * calls it (STANDBY_URL, https://<location>.<mail host>): the Worker's
 * fetch trusts public CAs only and checks the name, so with ACME on and
 * failover.nodeHost set it is an ACME certificate for that name (the name
 * points at this server's own address, so http-01 reaches this node while
 * the mail host's addresses are still the primary's). Otherwise the node's
 * own certificate, as for every listener.
 */
export async function openNodeHostCertificates(config: Config, opts: OpenCertificateOptions = {}): Promise<OpenedCertificates> {
  const name = config.failover.nodeHost;
  if (config.tls.certFile || !config.tls.acme.enabled || !name) return openCertificateStore(config, opts);
  const acme = new AcmeManager({
    directoryUrl: config.tls.acme.directoryUrl,
    email: config.tls.acme.email || undefined,
    domains: [name],
    dir: nodeHostAcmeDir(config),
    solver: solverFor(config, opts),
    renewDaysBefore: config.tls.acme.renewDaysBefore,
    directoryCa: opts.acmeDirectoryCa,
    pollMs: opts.acmePollMs,
  });
  const issued = acme.current();
  const files = issued ?? (await ensureLocalCertificate(join(config.dataDir, 'tls', 'node-host'), { hostname: name }));
  const store = await CertificateStore.fromFiles(files.certFile, files.keyFile, { watch: true });
  acme.attachStore(store);
  return { store, certFile: files.certFile, keyFile: files.keyFile, source: issued ? 'acme' : 'self-signed', created: false, acme };
}

/** The AcmeManager the config describes (tls.acme.*), with its challenge solver. */
export function acmeManagerFor(config: Config, opts: OpenCertificateOptions = {}): AcmeManager {
  const solver = solverFor(config, opts);
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

/**
 * A promoted standby takes the mail host's certificate the primary carried
 * through the replica into its own ACME directory, where the serving node
 * finds it at start and renews it from then on. Taken only when it covers
 * the hostname, matches its key, is still valid and outlives what is there
 * already. True when installed.
 */
export function installCarriedCertificate(config: Config, pair: { certPem: string; keyPem: string }, now = new Date()): boolean {
  const cert = new X509Certificate(pair.certPem);
  if (!cert.checkPrivateKey(createPrivateKey(pair.keyPem)) || !certificateCovers(cert, config.hostname)) return false;
  const until = new Date(cert.validTo).getTime();
  if (until <= now.getTime()) return false;
  const dir = acmeDir(config);
  const have = acmeManagerFor(config).current();
  if (have && new Date(new X509Certificate(have.certPem).validTo).getTime() >= until) return false;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Key first: a watcher never sees a certificate without its key.
  writeAtomic(join(dir, ACME_KEY_FILE), pair.keyPem, 0o600);
  writeAtomic(join(dir, ACME_CERT_FILE), pair.certPem, 0o644);
  return true;
}
