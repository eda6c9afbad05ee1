/**
 * @module node/dav/errors
 * DavError carries an HTTP status and, where RFC 4918/4791/6352/6578 name
 * one, the precondition element sent in the DAV:error body. `toDavError` is
 * the one place store errors become wire replies.
 */
import {
  AuthFailedError,
  ConflictError,
  CorruptDatabaseError,
  DiskFullError,
  WritesRefusedError,
  InvalidNameError,
  MailboxExistsError,
  MailboxLockedError,
  NotFoundError,
  PreconditionFailedError,
  QuotaExceededError,
  UidConflictError,
  WrongKeyError,
} from '../store/index.js';
import { CALDAV, CARDDAV, DAV, XmlError, escapeXml } from './xml.js';

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface Precondition {
  ns: string;
  name: string;
  /** Extra XML inside the precondition element (e.g. the conflicting href). */
  inner?: string;
}

export class DavError extends ProtocolError {
  constructor(
    readonly status: number,
    readonly precondition: Precondition | null,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const pre = {
  dav: (name: string, inner?: string): Precondition => ({ ns: DAV, name, inner }),
  cal: (name: string, inner?: string): Precondition => ({ ns: CALDAV, name, inner }),
  card: (name: string, inner?: string): Precondition => ({ ns: CARDDAV, name, inner }),
};

export const notFound = (what = 'no such resource'): DavError =>
  new DavError(404, null, `${what}; list the collection with PROPFIND Depth: 1 to see what exists`);

export const badRequest = (msg: string): DavError => new DavError(400, null, msg);

/** Which precondition namespace applies to a collection kind. */
export type Kind = 'calendar' | 'addressbook';

/** Where the request ran: the collection kind, and how to name a stored object in a reply. */
export interface ErrorScope {
  kind?: Kind;
  objectHref?: (collectionId: number, name: string) => string | null;
}

/**
 * Store and parser errors to DAV replies. Returns null for errors nobody
 * expected: the caller logs those with their stack and answers 500.
 */
export function toDavError(err: unknown, scope: ErrorScope = {}): DavError | null {
  const { kind } = scope;
  if (err instanceof DavError) return err;
  if (err instanceof XmlError) return new DavError(400, null, `the request body is not acceptable XML: ${err.message}`);
  if (err instanceof AuthFailedError)
    return new DavError(401, null, 'wrong address or password; use your full address and your password or an app password', {
      'WWW-Authenticate': 'Basic realm="Haven", charset="UTF-8"',
    });
  if (err instanceof UidConflictError) {
    // RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1: the precondition names the resource whose UID is in the way.
    const p = kind === 'addressbook' ? pre.card : pre.cal;
    const h = scope.objectHref?.(err.collectionId, err.existingName);
    return new DavError(
      403,
      p('no-uid-conflict', h ? `<d:href>${escapeXml(h)}</d:href>` : undefined),
      err.replacing
        ? `${err.existingName} holds an object with another UID; a new UID is a new object: PUT it under a new name`
        : `another object in this collection (${err.existingName}) has the same UID; update that object instead`,
    );
  }
  if (err instanceof PreconditionFailedError)
    return new DavError(412, null, `${err.message}; fetch the current version (GET) and retry with its ETag`);
  if (err instanceof QuotaExceededError)
    return new DavError(507, pre.dav('quota-not-exceeded'), `${err.message}`);
  if (err instanceof MailboxExistsError) return new DavError(405, pre.dav('resource-must-be-null'), `${err.message}; choose another name`);
  if (err instanceof InvalidNameError) return new DavError(403, null, `${err.message}; choose another name`);
  if (err instanceof NotFoundError) return notFound(err.message);
  if (err instanceof MailboxLockedError) return new DavError(503, null, 'the mailbox is locked; sign in again', { 'Retry-After': '5' });
  if (err instanceof DiskFullError) return new DavError(507, null, 'the server is out of disk space; nothing was changed, retry later');
  // RFC 9110 15.6.4: 503, a temporary condition; nothing was changed.
  if (err instanceof WritesRefusedError) return new DavError(503, null, `${err.message}; nothing was changed`);
  if (err instanceof CorruptDatabaseError || err instanceof WrongKeyError)
    return new DavError(500, null, 'this account\'s data cannot be read; ask the operator to restore it');
  if (err instanceof ConflictError) return new DavError(409, null, `${err.message}`);
  return null;
}
