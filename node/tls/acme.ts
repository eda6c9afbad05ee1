/**
 * @module node/tls/acme
 * Certificates from an ACME CA (Let's Encrypt in production, Pebble in
 * tests). A `ChallengeSolver` proves control of each name: HTTP-01 through
 * an `Http01Responder` the node's plain HTTP server answers
 * `/.well-known/acme-challenge/<token>` from, or DNS-01 through the
 * Cloudflare API (`CloudflareDns01Solver`). An `AcmeManager` issues, stores
 * (<dir>/cert.pem, key.pem, account-key.pem, account.json, keys 0600) and renews the
 * certificate ahead of expiry, handing each new one to the CertificateStore
 * so every listener switches without a restart.
 *
 * acme-client does the protocol; the CSR is built with node-forge and the
 * keys with node:crypto, because acme-client's own CSR helper goes through
 * @peculiar/x509, which mailauth's exact pins of @peculiar/asn1-* split into
 * two incompatible copies in this tree.
 */
import { createPrivateKey, generateKeyPair, X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { promisify } from 'node:util';
import * as acme from 'acme-client';
import forge from 'node-forge';
import type { CloudflareDns } from './cloudflare.js';
import { CertificateError } from './errors.js';
import { certificateCovers, writeAtomic } from './self-signed.js';
import { describeCertificate, type CertificateInfo, type CertificateStore } from './store.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** Publishes and withdraws the proof for one challenge type (RFC 8555 §8). */
export interface ChallengeSolver {
  readonly type: 'http-01' | 'dns-01';
  /** `keyAuthorization` is acme-client's: the token.thumbprint for http-01, its SHA-256 base64url for dns-01. */
  present(identifier: string, token: string, keyAuthorization: string): Promise<void>;
  cleanup(identifier: string, token: string): Promise<void>;
}

/** What the node's HTTP server needs to answer `GET /.well-known/acme-challenge/:token`. */
export interface ChallengeStore {
  /** The key authorization for a pending token, or undefined (answer 404). */
  get(token: string): string | undefined;
}

/**
 * Pending HTTP-01 challenges: token → key authorization. The plain HTTP
 * server serves them (RFC 8555 §8.3) before any redirect to HTTPS.
 *
 * The running node is the only process that renews (`haven certs renew`
 * asks it over its control socket), so tokens live in memory only.
 */
export class Http01Responder implements ChallengeSolver, ChallengeStore {
  readonly type = 'http-01' as const;
  readonly #tokens = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    this.#tokens.set(token, keyAuthorization);
  }

  delete(token: string): void {
    this.#tokens.delete(token);
  }

  get(token: string): string | undefined {
    return this.#tokens.get(token);
  }

  async present(_identifier: string, token: string, keyAuthorization: string): Promise<void> {
    this.set(token, keyAuthorization);
  }

  async cleanup(_identifier: string, token: string): Promise<void> {
    this.delete(token);
  }

  /** The body for a request path, or undefined when the path is no pending challenge. */
  respond(path: string): string | undefined {
    if (!path.startsWith(ACME_CHALLENGE_PREFIX)) return undefined;
    return this.get(path.slice(ACME_CHALLENGE_PREFIX.length));
  }

  /** A node:http handler step: answers and returns true for a pending challenge, else returns false. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const body = this.respond((req.url ?? '').split('?')[0]);
    if (body === undefined) return false;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}

export interface Dns01Options {
  /**
   * Where to look for the new TXT record before asking the CA to validate
   * (Cloudflare's own resolvers by default); the CA is asked anyway once
   * `timeoutMs` passes.
   */
  resolver?: Pick<Resolver, 'resolveTxt'>;
  timeoutMs?: number;
  intervalMs?: number;
}

/** DNS-01 (RFC 8555 §8.4): a TXT record at _acme-challenge.<name>, through the Cloudflare API. */
export class CloudflareDns01Solver implements ChallengeSolver {
  readonly type = 'dns-01' as const;
  readonly #api: CloudflareDns;
  readonly #opts: Dns01Options;
  readonly #created = new Map<string, { zoneId: string; recordId: string }>();

  constructor(api: CloudflareDns, opts: Dns01Options = {}) {
    this.#api = api;
    this.#opts = opts;
  }

  async present(identifier: string, token: string, keyAuthorization: string): Promise<void> {
    const name = `_acme-challenge.${identifier.replace(/^\*\./, '')}`;
    const zone = await this.#api.zoneFor(name);
    const record = await this.#api.createTxt(zone.id, name, keyAuthorization);
    this.#created.set(token, { zoneId: zone.id, recordId: record.id });
    await this.#waitVisible(name, keyAuthorization);
  }

  async cleanup(_identifier: string, token: string): Promise<void> {
    const r = this.#created.get(token);
    if (!r) return;
    this.#created.delete(token);
    await this.#api.deleteRecord(r.zoneId, r.recordId);
  }

  async #waitVisible(name: string, value: string): Promise<void> {
    const resolver = this.#opts.resolver ?? cloudflareResolver();
    const deadline = Date.now() + (this.#opts.timeoutMs ?? 120_000);
    for (;;) {
      try {
        if ((await resolver.resolveTxt(name)).some((chunks) => chunks.join('') === value)) return;
      } catch {
        // NXDOMAIN or no answer yet: keep looking until the deadline.
      }
      if (Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, this.#opts.intervalMs ?? 2000));
    }
  }
}

function cloudflareResolver(): Resolver {
  const r = new Resolver({ timeout: 3000, tries: 2 });
  r.setServers(['1.1.1.1', '1.0.0.1']);
  return r;
}

export interface AcmeOptions {
  directoryUrl: string;
  /** Contact for the account; optional. */
  email?: string;
  /** Names the certificate must cover; the first is its subject. */
  domains: readonly string[];
  /**
   * Names it should also cover when they can be proved, asked at every check
   * (mta-sts.<domain>, autoconfig.<domain>, … for the directory's domains). A
   * name whose challenge fails is left out with a warning and tried again a
   * day later, so a domain whose DNS is not ready never costs the node its
   * certificate.
   */
  extraDomains?: () => readonly string[];
  /** Holds account-key.pem, account.json, cert.pem and key.pem. */
  dir: string;
  /** Http01Responder (http-01) or CloudflareDns01Solver (dns-01). */
  solver: ChallengeSolver;
  /** Renew when fewer days than this remain. */
  renewDaysBefore: number;
  /** Extra CA (PEM) trusted for the directory's HTTPS, e.g. Pebble's. */
  directoryCa?: string;
  /** First poll delay while the CA validates (ms); default 2 s (Let's Encrypt usually validates within that; acme-client's own default is 5 s). */
  pollMs?: number;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

export const ACME_CERT_FILE = 'cert.pem';
export const ACME_KEY_FILE = 'key.pem';
export const ACME_ACCOUNT_KEY_FILE = 'account-key.pem';
/** The CA's directory and the account URL it gave on registration. */
export const ACME_ACCOUNT_FILE = 'account.json';

export interface AcmeManagerEvents {
  issued: [CertificateInfo];
  /** An issuance or renewal failed; the current certificate stays. */
  warning: [CertificateError];
}

/**
 * Issues and renews one certificate. `renewIfDue()` does one check;
 * `start()` repeats it (every 12 h by default) until `stop()`.
 */
export class AcmeManager extends EventEmitter<AcmeManagerEvents> {
  readonly #opts: AcmeOptions;
  #store?: CertificateStore;
  #timer?: NodeJS.Timeout;
  #watcher?: FSWatcher;
  #running?: Promise<'issued' | 'current'>;
  /** Extra names whose last attempt failed, and when. */
  readonly #extraFailedAt = new Map<string, number>();

  constructor(opts: AcmeOptions, store?: CertificateStore) {
    super();
    if (opts.domains.length === 0) throw new CertificateError('ACME needs at least one domain: set hostname (HAVEN_HOSTNAME)');
    this.#opts = opts;
    this.#store = store;
  }

  /** Where issued certificates go from now on. */
  attachStore(store: CertificateStore): void {
    this.#store = store;
  }

  get certFile(): string {
    return join(this.#opts.dir, ACME_CERT_FILE);
  }

  get keyFile(): string {
    return join(this.#opts.dir, ACME_KEY_FILE);
  }

  /** The stored ACME certificate, if there is one that covers every domain. */
  current(): IssuedCertificate | undefined {
    try {
      const certPem = readFileSync(this.certFile, 'utf8');
      const keyPem = readFileSync(this.keyFile, 'utf8');
      const cert = new X509Certificate(certPem);
      if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
      if (!this.#opts.domains.every((d) => certificateCovers(cert, d))) return undefined;
      return { certPem, keyPem, certFile: this.certFile, keyFile: this.keyFile };
    } catch {
      return undefined;
    }
  }

  /** The extra names wanted now (lower case, without the required ones). */
  #extras(): string[] {
    const required = new Set(this.#opts.domains.map((d) => d.toLowerCase()));
    return [...new Set((this.#opts.extraDomains?.() ?? []).map((d) => d.toLowerCase()))].filter((d) => !required.has(d));
  }

  /**
   * True when there is no usable certificate, it expires within
   * renewDaysBefore, or it lacks an extra name not tried in the last day.
   */
  isDue(now: Date = new Date()): boolean {
    const cur = this.current();
    if (!cur) return true;
    const cert = new X509Certificate(cur.certPem);
    if (new Date(cert.validTo).getTime() - now.getTime() < this.#opts.renewDaysBefore * 86400_000) return true;
    return this.#extras().some((d) => !certificateCovers(cert, d) && now.getTime() - (this.#extraFailedAt.get(d) ?? 0) >= 86400_000);
  }

  /** Issues a certificate when due and installs it in the store. */
  renewIfDue(now: Date = new Date()): Promise<'issued' | 'current'> {
    this.#running ??= (async () => {
      if (!this.isDue(now)) {
        this.syncStore();
        return 'current' as const;
      }
      const issued = await this.issue();
      const info = this.#store ? this.#store.reload(issued.certPem, issued.keyPem) : describeCertificate(new X509Certificate(issued.certPem));
      this.emit('issued', info);
      return 'issued' as const;
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /**
   * Puts the stored certificate into the store when it is not the one
   * served, e.g. after `haven certs renew` replaced the files from another
   * process. True when it switched.
   */
  syncStore(): boolean {
    const cur = this.current();
    if (!cur || !this.#store) return false;
    if (new X509Certificate(cur.certPem).fingerprint256 === this.#store.info.fingerprint256) return false;
    this.emit('issued', this.#store.reload(cur.certPem, cur.keyPem));
    return true;
  }

  /** Checks now and every `intervalMs` (12 h), and follows the stored files for renewals made by another process. */
  start(intervalMs = 12 * 3600_000): void {
    if (this.#timer) return;
    const tick = () => {
      this.renewIfDue().catch((err: unknown) => this.emit('warning', asCertificateError(err)));
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
    try {
      mkdirSync(this.#opts.dir, { recursive: true, mode: 0o700 });
      // Renewal tools replace files by rename: watch the directory, not the files.
      this.#watcher = watch(this.#opts.dir, { persistent: false }, (_event, name) => {
        if (name !== ACME_CERT_FILE && name !== ACME_KEY_FILE) return;
        try {
          this.syncStore();
        } catch (err) {
          this.emit('warning', asCertificateError(err));
        }
      });
      this.#watcher.on('error', (err) => this.emit('warning', new CertificateError(`stopped watching ${this.#opts.dir}: ${err.message}; restart to pick up certificates renewed by haven certs renew`)));
    } catch (err) {
      this.emit('warning', asCertificateError(err));
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  /** Runs one order to completion: account, a challenge for each name, CSR, download. */
  async issue(): Promise<IssuedCertificate> {
    const o = this.#opts;
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    if (o.directoryCa) acme.axios.defaults.httpsAgent = new https.Agent({ ca: o.directoryCa });
    const client = new acme.Client({
      directoryUrl: o.directoryUrl,
      accountKey: await this.#accountKey(),
      accountUrl: this.#accountUrl(),
      backoffMin: o.pollMs ?? 2000,
      backoffMax: Math.max(o.pollMs ?? 2000, 30_000),
    });
    try {
      // Register once and remember the account URL: acme-client turns a repeated
      // registration into an account update, which CAs refuse when it changes nothing.
      if (!this.#accountUrl()) {
        await client.createAccount({ termsOfServiceAgreed: true, contact: o.email ? [`mailto:${o.email}`] : [] });
        writeAtomic(join(o.dir, ACME_ACCOUNT_FILE), JSON.stringify({ directoryUrl: o.directoryUrl, url: client.getAccountUrl() }) + '\n', 0o600);
      }
      let names = [...o.domains, ...this.#extras()];
      let order: acme.Order;
      for (;;) {
        const round = await this.#authorize(client, names);
        order = round.order;
        const failed = round.failed;
        const optional = failed.filter((f) => !o.domains.includes(f.name));
        if (failed.length === 0) break;
        if (optional.length < failed.length) throw failed.find((f) => o.domains.includes(f.name))!.err;
        // Only extra names failed: a new order without them (an order with a failed authorization cannot be finalized).
        const now = Date.now();
        for (const f of optional) this.#extraFailedAt.set(f.name, now);
        names = names.filter((n) => !optional.some((f) => f.name === n));
        this.emit('warning', new CertificateError(`left ${optional.map((f) => f.name).join(', ')} out of the certificate (${optional.map((f) => `${f.name}: ${f.why}`).join('; ')}); point those names at this node (CNAME to ${o.domains[0]}) and it tries again in a day`));
      }
      const { keyPem, csrPem } = await createCsr(names);
      const finalized = await client.finalizeOrder(order, csrPem);
      const certPem = await client.getCertificate(finalized);
      writeAtomic(this.keyFile, keyPem, 0o600);
      writeAtomic(this.certFile, certPem, 0o644);
      for (const n of names) this.#extraFailedAt.delete(n);
      return { certPem, keyPem, certFile: this.certFile, keyFile: this.keyFile };
    } catch (err) {
      throw asCertificateError(err);
    }
  }

  /**
   * Proves control of every name of a new order for `names`; returns the
   * names whose challenge failed (every name is tried, so one round finds
   * all of them).
   */
  async #authorize(client: acme.Client, names: readonly string[]): Promise<{ order: acme.Order; failed: { name: string; err: CertificateError; why: string }[] }> {
    const o = this.#opts;
    const failed: { name: string; err: CertificateError; why: string }[] = [];
    const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
    for (const authz of await client.getAuthorizations(order)) {
      // A name the account proved recently may come back already valid (authorization reuse).
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === o.solver.type);
      if (!challenge) {
        const other = o.solver.type === 'http-01' ? 'dns-01' : 'http-01';
        throw new CertificateError(`the CA offered no ${o.solver.type} challenge for ${authz.identifier.value}; use tls.acme.challenge ${other}`);
      }
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      const name = authz.identifier.value;
      try {
        await o.solver.present(name, challenge.token, keyAuthorization);
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      } catch (err) {
        failed.push({ name, err: asCertificateError(err), why: err instanceof Error ? err.message : String(err) });
      } finally {
        // A leftover token or TXT record is harmless; do not let it hide why the order failed.
        await o.solver.cleanup(name, challenge.token).catch((err: unknown) => this.emit('warning', asCertificateError(err)));
      }
    }
    return { order, failed };
  }

  #accountUrl(): string | undefined {
    try {
      // An account belongs to one CA: a changed tls.acme.directoryUrl registers afresh.
      const saved = JSON.parse(readFileSync(join(this.#opts.dir, ACME_ACCOUNT_FILE), 'utf8')) as { directoryUrl?: string; url?: string };
      return saved.directoryUrl === this.#opts.directoryUrl && typeof saved.url === 'string' ? saved.url : undefined;
    } catch {
      return undefined;
    }
  }

  async #accountKey(): Promise<string> {
    const file = join(this.#opts.dir, ACME_ACCOUNT_KEY_FILE);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw asCertificateError(err);
    }
    const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeAtomic(file, pem, 0o600);
    return pem;
  }
}

/** An RSA 2048 key and a CSR naming every domain (first as CN), SHA-256. */
export async function createCsr(domains: readonly string[]): Promise<{ keyPem: string; csrPem: string }> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  csr.setSubject([{ shortName: 'CN', value: domains[0] }]);
  csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: domains.map((value) => ({ type: 2, value })) }] }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha256.create());
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, csrPem: forge.pki.certificationRequestToPem(csr) };
}

function asCertificateError(err: unknown): CertificateError {
  if (err instanceof CertificateError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CertificateError(`ACME certificate request failed: ${msg}; for http-01 check that ports.http is reachable as port 80 for every name, for dns-01 the Cloudflare token and zone, and tls.acme.directoryUrl`);
}
