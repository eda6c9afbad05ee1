/**
 * @module node/dav/context
 * What one authenticated request carries (the lease, the caller's address,
 * limits) and the resolution of a path to a resource the caller owns.
 * Another account's paths resolve to 404, exactly like paths that do not
 * exist, so a probe learns nothing about other accounts.
 */
import type { Lease, Collection, CollectionKind, DavObject, Store } from '../store/index.js';
import type { Logger } from '../util/log.js';
import { DavError, notFound } from './errors.js';
import type { ScheduleBox, Target } from './paths.js';
import { readBoundedBody } from '../util/bounded-body.js';

export interface DavLimits {
  /** Largest calendar or address object accepted by PUT (bytes). */
  maxResourceSize: number;
  /** Largest XML request body (bytes). */
  maxXmlBody: number;
  /** Most hrefs in one multiget. */
  maxMultiget: number;
}

export const DEFAULT_LIMITS: DavLimits = { maxResourceSize: 2 * 1024 * 1024, maxXmlBody: 1024 * 1024, maxMultiget: 5_000 };

/** Sends iTIP messages by mail (RFC 6047); wired to the SMTP queue by node/main.ts. */
export interface ImipSender {
  send(msg: { from: string; to: string[]; method: string; ics: string }): Promise<void>;
}

export interface DavDeps {
  store: Store;
  log: Logger;
  authLimiter: import('../util/auth-limiter.js').AuthLimiter;
  limits?: Partial<DavLimits>;
  imip?: ImipSender;
}

export interface Ctx {
  req: Request;
  url: URL;
  target: Target;
  lease: Lease;
  /** The caller's canonical address (lowercase). */
  address: string;
  limits: DavLimits;
  log: Logger;
  /** Origin tag for store change events (this request). */
  origin: string;
  /** The whole store: free-busy lookups of other local accounts (RFC 6638 §5). */
  store: Store;
  /** Where implicit scheduling sends iTIP messages; none means scheduling messages are not sent. */
  imip?: ImipSender;
  /**
   * Keeps the mailbox open past the handler's return, for a reply that is
   * still being written (a streamed multistatus); call what it returns when done.
   */
  holdLease(): () => void;
}

export type Resource =
  | { t: 'root'; href?: string }
  | { t: 'principals' }
  | { t: 'principal'; address: string }
  | { t: 'schedule'; box: ScheduleBox; address: string }
  | { t: 'home'; kind: CollectionKind; address: string }
  | { t: 'collection'; kind: CollectionKind; address: string; col: Collection }
  | { t: 'object'; kind: CollectionKind; address: string; col: Collection; name: string; obj: DavObject | null };

/** Resolves the target to a resource; 404 for other accounts and missing collections. */
export function resolve(ctx: Ctx, target: Target = ctx.target): Resource {
  if (target.t === 'root' || target.t === 'principals') return target;
  if (target.address !== ctx.address) throw notFound(`no such resource`);
  if (target.t === 'principal' || target.t === 'home' || target.t === 'schedule') return target;
  const col = ctx.lease.mailbox.dav.collection(target.kind, target.collection);
  if (target.t === 'collection') {
    if (!col) throw notFound(`no ${target.kind} named "${target.collection}"`);
    return { t: 'collection', kind: target.kind, address: target.address, col };
  }
  if (!col) throw new DavError(409, null, `no ${target.kind} named "${target.collection}"; create it (MKCALENDAR or MKCOL) first`);
  return { t: 'object', kind: target.kind, address: target.address, col, name: target.name, obj: ctx.lease.mailbox.dav.object(col.id, target.name) };
}

/** Reads a request body up to a limit, refusing early on Content-Length. */
export async function readBody(req: Request, limit: number, tooBig: () => DavError): Promise<string> {
  const buf = await readBoundedBody(req, limit);
  if (buf === null) throw tooBig();
  return new TextDecoder('utf-8', { fatal: false }).decode(buf);
}
