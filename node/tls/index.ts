/**
 * @module node/tls
 * Certificates: a self-signed leaf for a local run, operator-supplied files
 * in production (ACME to follow), one `CertificateStore` every listener reads
 * so a new certificate applies without a restart or dropped connections.
 */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { ensureLocalCertificate } from './self-signed.js';
import { CertificateStore } from './store.js';

export { CertificateError } from './errors.js';
export { CertificateStore, MIN_TLS_VERSION, MAX_TLS_VERSION, type CertificateInfo } from './store.js';
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

export interface OpenedCertificates {
  store: CertificateStore;
  certFile: string;
  keyFile: string;
  /** 'files': tls.certFile/keyFile; 'self-signed': made or reused in <dataDir>/tls. */
  source: 'files' | 'self-signed';
  /** A self-signed certificate was made on this start. */
  created: boolean;
}

/**
 * The store the node's listeners share, chosen from the config: the given
 * files when tls.certFile is set, otherwise the self-signed certificate in
 * <dataDir>/tls (made on first run). Both are watched for replacement.
 */
export async function openCertificateStore(config: Config): Promise<OpenedCertificates> {
  if (config.tls.certFile) {
    const store = await CertificateStore.fromFiles(config.tls.certFile, config.tls.keyFile, { watch: true });
    return { store, certFile: config.tls.certFile, keyFile: config.tls.keyFile, source: 'files', created: false };
  }
  const local = await ensureLocalCertificate(join(config.dataDir, 'tls'), { hostname: config.hostname });
  const store = await CertificateStore.fromFiles(local.certFile, local.keyFile, { watch: true });
  return { store, certFile: local.certFile, keyFile: local.keyFile, source: 'self-signed', created: local.created };
}
