/**
 * @module node/dav/paths
 * The URL layout, in one place, both ways:
 *
 *   /dav/                                          root (current-user-principal)
 *   /                                              the same, for RFC 6764 §6 clients that start at the server root
 *   /dav/principals/                               principal collection (RFC 3744 §5.8)
 *   /dav/principals/<address>/                     principal
 *   /dav/principals/<address>/inbox/               scheduling inbox (RFC 6638 §2.2)
 *   /dav/principals/<address>/outbox/              scheduling outbox (RFC 6638 §2.1)
 *   /dav/calendars/<address>/                      calendar home
 *   /dav/calendars/<address>/<calendar>/           calendar
 *   /dav/calendars/<address>/<calendar>/<name>     calendar object
 *   /dav/addressbooks/<address>/...                the same for contacts
 *
 * Segments are percent-decoded once and refused when they could escape
 * their place (empty, ".", "..", slashes, control characters).
 */
import { DavError } from './errors.js';
import type { CollectionKind } from '../store/index.js';

export const ROOT = '/dav/';

export type ScheduleBox = 'inbox' | 'outbox';

export type Target =
  | { t: 'root'; href?: string }
  | { t: 'principals' }
  | { t: 'principal'; address: string }
  | { t: 'schedule'; box: ScheduleBox; address: string }
  | { t: 'home'; kind: CollectionKind; address: string }
  | { t: 'collection'; kind: CollectionKind; address: string; collection: string }
  | { t: 'object'; kind: CollectionKind; address: string; collection: string; name: string };

const HOMES: Record<string, CollectionKind> = { calendars: 'calendar', addressbooks: 'addressbook' };
const HOME_OF: Record<CollectionKind, string> = { calendar: 'calendars', addressbook: 'addressbooks' };

function decodeSegment(s: string): string {
  let d = s;
  // Most segments hold no escape: decoding them would give them back unchanged, at a cost per href of a multiget.
  if (s.includes('%'))
    try {
      d = decodeURIComponent(s);
    } catch {
      throw new DavError(400, null, `bad percent-encoding in path segment "${s}"`);
    }
  if (d === '' || d === '.' || d === '..' || /[\/\\\u0000-\u001f\u007f]/.test(d) || d.length > 255)
    throw new DavError(403, null, `path segment "${s}" is not allowed; use a plain name without slashes or dots-only`);
  return d;
}

/** Maps a request path to what it names; null for paths outside /dav/. */
export function parsePath(pathname: string): Target | null {
  if (pathname === '/') return { t: 'root', href: '/' };
  if (!pathname.startsWith('/dav')) return null;
  if (pathname === '/dav' || pathname === '/dav/') return { t: 'root' };
  if (!pathname.startsWith('/dav/')) return null;
  const raw = pathname.slice(5).split('/');
  if (raw[raw.length - 1] === '') raw.pop();
  if (raw.some((s) => s === '')) throw new DavError(403, null, 'empty path segment ("//"); use single slashes');
  const seg = raw.map(decodeSegment);
  const [top, address, collection, name, ...rest] = seg;
  if (rest.length) return null;
  if (top === 'principals') {
    if (!address) return { t: 'principals' };
    if (name) return null;
    if (collection === 'inbox' || collection === 'outbox') return { t: 'schedule', box: collection, address: address.toLowerCase() };
    if (collection) return null;
    return { t: 'principal', address: address.toLowerCase() };
  }
  const kind = HOMES[top];
  if (!kind || !address) return null;
  if (!collection) return { t: 'home', kind, address: address.toLowerCase() };
  if (!name) return { t: 'collection', kind, address: address.toLowerCase(), collection };
  return { t: 'object', kind, address: address.toLowerCase(), collection, name };
}

/**
 * For a path deeper than the layout (`<home>/<collection>/<a>/<b>...`): the
 * owner it lies under, so that a PUT or MKCOL there can be told that an
 * intermediate collection is missing (RFC 4918 §9.3.1, §9.7.1: 409) rather
 * than that nothing exists. Null for anything else.
 */
export function deepPathOwner(pathname: string): string | null {
  if (!pathname.startsWith('/dav/')) return null;
  const raw = pathname.slice(5).split('/');
  if (raw[raw.length - 1] === '') raw.pop();
  if (raw.length <= 4 || !HOMES[raw[0]] || raw.some((s) => s === '')) return null;
  try {
    return decodeSegment(raw[1]).toLowerCase();
  } catch {
    return null;
  }
}

/** Percent-encodes a segment, leaving '@' (addresses read better and clients compare either way). */
/** What encodeURIComponent leaves as it is, and @ (which enc leaves as it is too). */
const UNRESERVED = /^[\w.~!*'()@-]*$/;

export function enc(s: string): string {
  // Names made only of characters that are never escaped come back unchanged: skip the encoding (every href of a reply).
  return UNRESERVED.test(s) ? s : encodeURIComponent(s).replace(/%40/g, '@');
}

export const href = {
  principal: (address: string) => `${ROOT}principals/${enc(address)}/`,
  schedule: (box: ScheduleBox, address: string) => `${ROOT}principals/${enc(address)}/${box}/`,
  home: (kind: CollectionKind, address: string) => `${ROOT}${HOME_OF[kind]}/${enc(address)}/`,
  collection: (kind: CollectionKind, address: string, name: string) => `${ROOT}${HOME_OF[kind]}/${enc(address)}/${enc(name)}/`,
  object: (kind: CollectionKind, address: string, collection: string, name: string) =>
    `${ROOT}${HOME_OF[kind]}/${enc(address)}/${enc(collection)}/${enc(name)}`,
};

export function hrefOf(t: Target): string {
  switch (t.t) {
    case 'root':
      return t.href ?? ROOT;
    case 'principals':
      return `${ROOT}principals/`;
    case 'principal':
      return href.principal(t.address);
    case 'schedule':
      return href.schedule(t.box, t.address);
    case 'home':
      return href.home(t.kind, t.address);
    case 'collection':
      return href.collection(t.kind, t.address, t.collection);
    case 'object':
      return href.object(t.kind, t.address, t.collection, t.name);
  }
}

/** Resolves an href from a request body (absolute URL or path) to a target. */
export function parseHref(h: string): Target | null {
  let p = h.trim();
  if (/^https?:\/\//i.test(p)) {
    try {
      p = new URL(p).pathname;
    } catch {
      return null;
    }
  }
  try {
    return parsePath(p);
  } catch {
    return null;
  }
}
