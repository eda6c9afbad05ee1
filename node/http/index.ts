/**
 * @module node/http
 * The node's web side: HTTPS (CalDAV/CardDAV, the signed admin API, /health,
 * /metrics) and plain HTTP (ACME http-01, redirect). node/main.ts calls
 * `startHttp`; the edge imports the signing helpers from ./signature.js.
 */
export { startHttp, type HttpDeps, type HttpHandle, type HttpListen } from './server.js';
export { httpsApp, packageVersion, type HttpAppDeps } from './app.js';
export { plainHttpApp, type ChallengeStore, type PlainHttpOptions } from './challenge.js';
export { adminApp, type AdminDeps } from './admin.js';
export { checkHealth, tcpProbe, DEFAULT_HEALTH_THRESHOLDS, type Health, type HealthSource, type HealthThresholds, type ListenerProbe, type ListenerAddress, type CertificateSource } from './health.js';
export { adminSecret, ADMIN_SECRET_FILE } from './secret.js';
export { ApiError, toApiError } from './errors.js';
export { domainRecords, type ApiDnsRecord, type PublicAddresses } from './dns-records.js';
export { NonceCache, signRequest, verifyRequest, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP } from './signature.js';
