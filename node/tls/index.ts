/**
 * @module node/tls
 * Certificates: a self-signed leaf for a local run, ACME (HTTP-01 or
 * DNS-01 through Cloudflare) or operator-supplied files in production, one
 * `CertificateStore` every listener reads so a new certificate applies
 * without a restart or dropped connections, and `renewCertificate` for
 * `haven certs renew`.
 */
export { CertificateError } from './errors.js';
export {
  AcmeManager,
  ACME_CHALLENGE_PREFIX,
  CloudflareDns01Solver,
  createCsr,
  Http01Responder,
  type AcmeOptions,
  type ChallengeSolver,
  type ChallengeStore,
  type Dns01Options,
  type IssuedCertificate,
} from './acme.js';
export { CloudflareDns, CLOUDFLARE_API, type CloudflareDnsOptions, type CloudflareRecord, type CloudflareZone } from './cloudflare.js';
export { CertificateStore, describeCertificate, MIN_TLS_VERSION, MAX_TLS_VERSION, type CertificateInfo } from './store.js';
export {
  certificateCovers,
  createSelfSignedCertificate,
  ensureLocalCertificate,
  CERT_FILE,
  KEY_FILE,
  LOCAL_NAMES,
  type CertificatePair,
  type EnsureLocalOptions,
  type LocalCertificate,
  type SelfSignedOptions,
} from './self-signed.js';
export { acmeDir, acmeManagerFor, installCarriedCertificate, nodeHostAcmeDir, openCertificateStore, openNodeHostCertificates, webNamesFor, type OpenCertificateOptions, type OpenedCertificates } from './from-config.js';
export { listenHttp01, renewCertificate, type RenewOptions, type RenewResult } from './renew.js';
