/**
 * @module node/tls/store
 * The node's current certificate, shared by every TLS listener (SMTP, IMAP,
 * POP3, HTTPS) and every STARTTLS upgrade. Replacing it (`reload`, or the
 * files changing on disk after an ACME renewal) takes effect for the next
 * handshake on every listener; established connections keep the context
 * they negotiated and are never dropped.
 *
 * How each listener picks up a new certificate:
 * - Haven's servers (IMAP, POP3, SMTP, DAV, HTTPS) take the store itself as
 *   `deps.tls` and call `secureContext()` at every handshake, SNI or not;
 * - `tls.Server` / `https.Server`: `attach(server)` calls `setSecureContext`
 *   on each reload (the default context serves clients that send no SNI,
 *   such as anything connecting to an IP address);
 * - SNI clients on any server created with `serverOptions()` get the current
 *   context through `SNICallback`;
 * - STARTTLS: build the TLSSocket with `secureContext: store.context` at the
 *   moment of the upgrade;
 * - anything else (smtp-server's `updateSecureContext`): `onReload(fn)`.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import tls from 'node:tls';
import { CertificateError } from './errors.js';

/** TLS 1.2 stays on: some Python IMAP clients still fail intermittently after STARTTLS on 1.3. */
export const MIN_TLS_VERSION = 'TLSv1.2' satisfies tls.SecureVersion;
export const MAX_TLS_VERSION = 'TLSv1.3' satisfies tls.SecureVersion;

export interface CertificateInfo {
  /** SHA-256 fingerprint, colon-separated hex as node prints it. */
  fingerprint256: string;
  subject: string;
  subjectAltName: string;
  validFrom: Date;
  validTo: Date;
  selfSigned: boolean;
}

interface Current {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  context: tls.SecureContext;
}

export interface CertificateStoreEvents {
  reload: [CertificateInfo];
  /** A watched file changed but could not be used; the previous certificate stays. */
  warning: [CertificateError];
}

export class CertificateStore extends EventEmitter<CertificateStoreEvents> {
  #current: Current;
  readonly #servers = new Set<tls.Server>();
  #watchers: FSWatcher[] = [];
  #files?: { certFile: string; keyFile: string };
  #pending?: Promise<boolean>;
  #again = false;

  constructor(certPem: string, keyPem: string) {
    super();
    this.#current = build(certPem, keyPem);
    this.SNICallback = this.SNICallback.bind(this);
  }

  /** Reads a PEM chain and key; with `watch`, reloads whenever either file is replaced. */
  static async fromFiles(certFile: string, keyFile: string, opts: { watch?: boolean } = {}): Promise<CertificateStore> {
    const [certPem, keyPem] = await readPair(certFile, keyFile);
    const store = new CertificateStore(certPem, keyPem);
    store.#files = { certFile: resolve(certFile), keyFile: resolve(keyFile) };
    if (opts.watch) store.watch();
    return store;
  }

  /** The current context, for STARTTLS upgrades (`new tls.TLSSocket(sock, { isServer: true, secureContext })`). */
  get context(): tls.SecureContext {
    return this.#current.context;
  }

  /**
   * The current context, asked for at every handshake: the shape
   * (`{ secureContext(): tls.SecureContext }`) the IMAP, POP3, SMTP and DAV
   * servers take as `deps.tls`, so a store can be passed to them directly.
   */
  secureContext(): tls.SecureContext {
    return this.#current.context;
  }

  get certificate(): X509Certificate {
    return this.#current.cert;
  }

  get info(): CertificateInfo {
    return describeCertificate(this.#current.cert);
  }

  /** The options a `tls.createSecureContext` / `setSecureContext` needs for the current certificate. */
  secureContextOptions(): tls.SecureContextOptions {
    return { cert: this.#current.certPem, key: this.#current.keyPem, minVersion: MIN_TLS_VERSION, maxVersion: MAX_TLS_VERSION };
  }

  /** Everything `tls.createServer` / `https.createServer` needs; pair with `attach(server)`. */
  serverOptions(): tls.TlsOptions {
    return { ...this.secureContextOptions(), SNICallback: this.SNICallback };
  }

  SNICallback(_servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void {
    cb(null, this.#current.context);
  }

  /** Keeps `server`'s default context current; returns a function that stops. */
  attach(server: tls.Server): () => void {
    this.#servers.add(server);
    server.setSecureContext(this.secureContextOptions());
    const detach = () => this.#servers.delete(server);
    server.once('close', detach);
    return detach;
  }

  /** Subscribes to certificate changes (for listeners that hold their own contexts). */
  onReload(fn: (info: CertificateInfo) => void): () => void {
    this.on('reload', fn);
    return () => this.off('reload', fn);
  }

  /**
   * Switches to a new certificate for all new handshakes. Throws
   * CertificateError, keeping the old one, when the pair is unusable.
   */
  reload(certPem: string, keyPem: string): CertificateInfo {
    const next = build(certPem, keyPem);
    this.#current = next;
    const options = this.secureContextOptions();
    for (const server of this.#servers) server.setSecureContext(options);
    const info = describeCertificate(next.cert);
    this.emit('reload', info);
    return info;
  }

  /** Rereads the files given to `fromFiles`; true when the certificate changed. */
  async reloadFromFiles(): Promise<boolean> {
    if (!this.#files) throw new CertificateError('this certificate store was not loaded from files; call reload(certPem, keyPem) instead');
    // Coalesce bursts of watch events: one read in flight, one more queued.
    if (this.#pending) {
      this.#again = true;
      return this.#pending;
    }
    this.#pending = (async () => {
      let changed = false;
      do {
        this.#again = false;
        const [certPem, keyPem] = await readPair(this.#files!.certFile, this.#files!.keyFile);
        if (certPem === this.#current.certPem && keyPem === this.#current.keyPem) continue;
        this.reload(certPem, keyPem);
        changed = true;
      } while (this.#again);
      return changed;
    })().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /**
   * Watches the directories of the files (renewal tools replace files by
   * rename, which a watch on the file itself would miss). A half-written
   * pair (new certificate, old key) fails the key check and is retried on
   * the next event, so writers need no coordination beyond writing both.
   */
  watch(): void {
    if (!this.#files || this.#watchers.length > 0) return;
    const names = new Set([basename(this.#files.certFile), basename(this.#files.keyFile)]);
    for (const dir of new Set([dirname(this.#files.certFile), dirname(this.#files.keyFile)])) {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (name !== null && !names.has(String(name))) return;
        this.reloadFromFiles().catch((err: unknown) => {
          const e = err instanceof CertificateError ? err : new CertificateError(String((err as Error)?.message ?? err));
          this.emit('warning', e);
        });
      });
      w.on('error', (err) => this.emit('warning', new CertificateError(`stopped watching ${dir}: ${err.message}; restart to pick up new certificates`)));
      this.#watchers.push(w);
    }
  }

  /** Whole days until the certificate expires (negative once expired). */
  daysUntilExpiry(now: Date = new Date()): number {
    return Math.floor((new Date(this.#current.cert.validTo).getTime() - now.getTime()) / 86400_000);
  }

  /** Stops watching; listeners keep the last certificate. */
  close(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    this.#servers.clear();
  }
}

async function readPair(certFile: string, keyFile: string): Promise<[string, string]> {
  try {
    return await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CertificateError(`cannot read ${e.path ?? certFile} (${e.code ?? e.message}); check tls.certFile and tls.keyFile (HAVEN_TLS_CERT_FILE, HAVEN_TLS_KEY_FILE)`);
  }
}

function build(certPem: string, keyPem: string): Current {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new CertificateError(`the certificate is not a PEM X.509 certificate (${(err as Error).message}); give the full chain, leaf first`);
  }
  let matches: boolean;
  try {
    const key = createPrivateKey(keyPem);
    matches = cert.checkPrivateKey(key) || createPublicKey(key).equals(cert.publicKey);
  } catch (err) {
    throw new CertificateError(`the private key is not a readable unencrypted PEM key (${(err as Error).message}); give the key that belongs to the certificate`);
  }
  if (!matches) throw new CertificateError(`the private key does not belong to the certificate for ${cert.subject.replace(/\n/g, ', ')}; give the matching key`);
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ cert: certPem, key: keyPem, minVersion: MIN_TLS_VERSION, maxVersion: MAX_TLS_VERSION });
  } catch (err) {
    throw new CertificateError(`TLS refused the certificate (${(err as Error).message}); check the chain order (leaf first)`);
  }
  return { certPem, keyPem, cert, context };
}

export function describeCertificate(cert: X509Certificate): CertificateInfo {
  return {
    fingerprint256: cert.fingerprint256,
    subject: cert.subject,
    subjectAltName: cert.subjectAltName ?? '',
    validFrom: new Date(cert.validFrom),
    validTo: new Date(cert.validTo),
    selfSigned: cert.subject === cert.issuer && cert.verify(cert.publicKey),
  };
}
