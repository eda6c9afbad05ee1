/**
 * @module node/dav
 * CalDAV (RFC 4791), CardDAV (RFC 6352), WebDAV core (RFC 4918),
 * extended MKCOL (RFC 5689), sync-collection (RFC 6578) and discovery
 * (RFC 6764), scheduling (RFC 6638) with iMIP (RFC 6047), for node/http to
 * mount at `/`, and a standalone HTTPS listener.
 */
export { davApp, DAV_CLASSES } from './app.js';
export { startDavServer, type DavServerDeps } from './server.js';
export { DEFAULT_LIMITS, type DavDeps, type DavLimits, type ImipSender } from './context.js';
export { DavError, toDavError } from './errors.js';
export { ROOT as DAV_ROOT, href as davHref } from './paths.js';
export { applyInbox, applyItip, buildImipMessage, extractItip, imipMailSender } from './scheduling/index.js';
