/**
 * @module node/dav/props
 * Live properties (RFC 4918 §15, RFC 3744 current-user-privilege-set,
 * RFC 4331 quota, RFC 4791 §6/§5.2, RFC 6352 §7/§6.2, RFC 6578 sync-token,
 * CalendarServer getctag) computed from the store, and dead properties kept
 * in the collection's props. Each getter returns the inner XML, or
 * undefined when the property does not exist on that resource.
 */
import type { DavObject } from '../store/index.js';
import type { Ctx, Resource } from './context.js';
import { MAX_INSTANCES } from './ical.js';
import { href, hrefOf } from './paths.js';
import { COLLECTION_PAGE } from './respond.js';
import { APPLE, CALDAV, CARDDAV, CS, DAV, XmlWriter, escapeXml } from './xml.js';

export const key = (ns: string, local: string): string => `{${ns}}${local}`;

type Getter = (r: Resource, ctx: Ctx, w: XmlWriter) => string | undefined;

export const SYNC_PREFIX = 'http://haven.invalid/sync/';
export const syncToken = (modseq: number): string => `${SYNC_PREFIX}${modseq}`;

const COLLECTION_BYTES = Buffer.byteLength(COLLECTION_PAGE);
const isCol = (r: Resource): boolean => r.t !== 'object';
/** Resources that hold the caller's data (quota applies); the root and the principal collection do not. */
const isOwn = (r: Resource): boolean => isCol(r) && r.t !== 'root' && r.t !== 'principals';
const hrefEl = (w: XmlWriter, h: string): string => w.text(DAV, 'href', h);

function contentType(kind: string, o: Pick<DavObject, 'component'>): string {
  return kind === 'calendar' ? `text/calendar; charset=utf-8${o.component ? `; component=${o.component}` : ''}` : 'text/vcard; charset=utf-8';
}

function objectSize(o: DavObject): number {
  return o.size ?? Buffer.byteLength(o.data);
}

/** RFC 6638 §6.1: what the owner may do with their inbox and outbox. */
const SCHEDULE_PRIVILEGES = {
  inbox: ['schedule-deliver', 'schedule-deliver-invite', 'schedule-deliver-reply', 'schedule-query-freebusy'],
  outbox: ['schedule-send', 'schedule-send-invite', 'schedule-send-reply', 'schedule-send-freebusy'],
};

const PRIVILEGES = ['read', 'write', 'write-properties', 'write-content', 'bind', 'unbind', 'read-current-user-privilege-set'];

const live: Record<string, Getter> = {
  [key(DAV, 'resourcetype')]: (r, _c, w) => {
    switch (r.t) {
      case 'object':
        return '';
      case 'principal':
        return w.el(DAV, 'collection') + w.el(DAV, 'principal');
      case 'schedule':
        return w.el(DAV, 'collection') + w.el(CALDAV, r.box === 'inbox' ? 'schedule-inbox' : 'schedule-outbox');
      case 'collection':
        return w.el(DAV, 'collection') + (r.kind === 'calendar' ? w.el(CALDAV, 'calendar') : w.el(CARDDAV, 'addressbook'));
      default:
        return w.el(DAV, 'collection');
    }
  },
  [key(DAV, 'displayname')]: (r, ctx) => {
    if (r.t === 'collection') return escapeXml(r.col.displayName ?? r.col.name);
    if (r.t === 'principal') return escapeXml(ctx.lease.account.displayName ?? ctx.address);
    return undefined;
  },
  [key(DAV, 'getetag')]: (r) => (r.t === 'object' ? (r.obj ? escapeXml(r.obj.etag) : undefined) : r.t === 'collection' ? escapeXml(`"${r.col.modseq}"`) : undefined),
  [key(DAV, 'getcontenttype')]: (r) => (r.t === 'object' && r.obj ? contentType(r.kind, r.obj) : undefined),
  // A collection's is the length of its GET page: RFC 4918 §15.4 defines it as what GET would send.
  [key(DAV, 'getcontentlength')]: (r) => (r.t === 'object' ? (r.obj ? String(objectSize(r.obj)) : undefined) : String(COLLECTION_BYTES)),
  [key(DAV, 'getlastmodified')]: (r) => (r.t === 'object' && r.obj ? new Date(r.obj.updatedAt).toUTCString() : undefined),
  [key(DAV, 'current-user-principal')]: (_r, ctx, w) => hrefEl(w, href.principal(ctx.address)),
  [key(DAV, 'principal-URL')]: (r, ctx, w) => (r.t === 'principal' ? hrefEl(w, href.principal(ctx.address)) : undefined),
  [key(DAV, 'owner')]: (r, ctx, w) => (r.t === 'root' || r.t === 'principals' ? undefined : hrefEl(w, href.principal(ctx.address))),
  [key(DAV, 'principal-collection-set')]: (_r, _c, w) => hrefEl(w, hrefOf({ t: 'principals' })),
  [key(DAV, 'current-user-privilege-set')]: (r, _c, w) =>
    PRIVILEGES.map((p) => w.el(DAV, 'privilege', w.el(DAV, p))).join('') +
    (r.t === 'schedule' ? SCHEDULE_PRIVILEGES[r.box].map((p) => w.el(DAV, 'privilege', w.el(CALDAV, p))).join('') : ''),
  [key(DAV, 'supported-report-set')]: (r, _c, w) => {
    const rep = (ns: string, n: string) => w.el(DAV, 'supported-report', w.el(DAV, 'report', w.el(ns, n)));
    if (r.t === 'collection' || r.t === 'object') {
      const own = r.kind === 'calendar' ? [rep(CALDAV, 'calendar-query'), rep(CALDAV, 'calendar-multiget'), rep(CALDAV, 'free-busy-query')] : [rep(CARDDAV, 'addressbook-query'), rep(CARDDAV, 'addressbook-multiget')];
      return [...own, ...(r.t === 'collection' ? [rep(DAV, 'sync-collection')] : [])].join('');
    }
    return '';
  },
  [key(DAV, 'sync-token')]: (r) => (r.t === 'collection' ? syncToken(r.col.modseq) : undefined),
  [key(CS, 'getctag')]: (r) => (r.t === 'collection' ? String(r.col.modseq) : undefined),
  [key(DAV, 'quota-used-bytes')]: (r, ctx) => (isOwn(r) ? String(ctx.lease.mailbox.usedBytes()) : undefined),
  [key(DAV, 'quota-available-bytes')]: (r, ctx) => {
    if (!isOwn(r)) return undefined;
    const q = ctx.lease.account.quotaBytes;
    // No quota: report the disk's own limit would leak host facts; a large figure keeps clients quiet.
    return String(q > 0 ? Math.max(0, q - ctx.lease.mailbox.usedBytes()) : 1024 ** 4);
  },
  // CalDAV
  [key(CALDAV, 'calendar-home-set')]: (r, ctx, w) => (r.t === 'principal' || r.t === 'root' ? hrefEl(w, href.home('calendar', ctx.address)) : undefined),
  [key(CALDAV, 'calendar-user-address-set')]: (r, ctx, w) => (r.t === 'principal' ? hrefEl(w, `mailto:${ctx.address}`) + hrefEl(w, href.principal(ctx.address)) : undefined),
  [key(CALDAV, 'calendar-user-type')]: (r) => (r.t === 'principal' ? 'INDIVIDUAL' : undefined),
  // RFC 6638 §2.1-2.3: where scheduling happens, and where invitations land.
  [key(CALDAV, 'schedule-inbox-URL')]: (r, ctx, w) => (r.t === 'principal' ? hrefEl(w, href.schedule('inbox', ctx.address)) : undefined),
  [key(CALDAV, 'schedule-outbox-URL')]: (r, ctx, w) => (r.t === 'principal' ? hrefEl(w, href.schedule('outbox', ctx.address)) : undefined),
  [key(CALDAV, 'schedule-default-calendar-URL')]: (r, ctx, w) => {
    if (r.t !== 'schedule' || r.box !== 'inbox') return undefined;
    const def = ctx.lease.mailbox.dav.collection('calendar', 'default') ?? ctx.lease.mailbox.dav.collections('calendar')[0];
    return def ? hrefEl(w, href.collection('calendar', ctx.address, def.name)) : '';
  },
  [key(CALDAV, 'schedule-calendar-transp')]: (r, _c, w) => (r.t === 'collection' && r.kind === 'calendar' ? w.el(CALDAV, 'opaque') : undefined),
  [key(CALDAV, 'supported-calendar-component-set')]: (r, _c, w) =>
    r.t === 'collection' && r.kind === 'calendar' ? (r.col.components.length ? r.col.components : ['VEVENT', 'VTODO', 'VJOURNAL']).map((c) => `<cal:comp name="${escapeXml(c)}"/>`).join('') : undefined,
  [key(CALDAV, 'supported-calendar-data')]: (r) =>
    r.t === 'collection' && r.kind === 'calendar' ? '<cal:calendar-data content-type="text/calendar" version="2.0"/>' : undefined,
  [key(CALDAV, 'calendar-description')]: (r) => (r.t === 'collection' && r.kind === 'calendar' && r.col.description !== null ? escapeXml(r.col.description) : undefined),
  [key(CALDAV, 'calendar-timezone')]: (r) => (r.t === 'collection' && r.kind === 'calendar' && r.col.timezone !== null ? escapeXml(r.col.timezone) : undefined),
  [key(CALDAV, 'max-resource-size')]: (r, ctx) => (r.t === 'collection' && r.kind === 'calendar' ? String(ctx.limits.maxResourceSize) : undefined),
  // RFC 4791 §5.2.8: the instance limit PUT enforces (ical.ts MAX_INSTANCES, docs/operations.md "Calendar limits").
  [key(CALDAV, 'max-instances')]: (r) => (r.t === 'collection' && r.kind === 'calendar' ? String(MAX_INSTANCES) : undefined),
  [key(APPLE, 'calendar-color')]: (r) => (r.t === 'collection' && r.kind === 'calendar' && r.col.color !== null ? escapeXml(r.col.color) : undefined),
  // CardDAV
  [key(CARDDAV, 'addressbook-home-set')]: (r, ctx, w) => (r.t === 'principal' || r.t === 'root' ? hrefEl(w, href.home('addressbook', ctx.address)) : undefined),
  [key(CARDDAV, 'addressbook-description')]: (r) => (r.t === 'collection' && r.kind === 'addressbook' && r.col.description !== null ? escapeXml(r.col.description) : undefined),
  [key(CARDDAV, 'supported-address-data')]: (r) =>
    r.t === 'collection' && r.kind === 'addressbook'
      ? '<card:address-data-type content-type="text/vcard" version="3.0"/><card:address-data-type content-type="text/vcard" version="4.0"/>'
      : undefined,
  [key(CARDDAV, 'max-resource-size')]: (r, ctx) => (r.t === 'collection' && r.kind === 'addressbook' ? String(ctx.limits.maxResourceSize) : undefined),
};

/** Properties returned for allprop (RFC 4918 §14.2: not the expensive or computed-heavy ones). */
const ALLPROP = [
  key(DAV, 'resourcetype'),
  key(DAV, 'displayname'),
  key(DAV, 'getetag'),
  key(DAV, 'getcontenttype'),
  key(DAV, 'getcontentlength'),
  key(DAV, 'getlastmodified'),
  key(CALDAV, 'calendar-description'),
  key(CARDDAV, 'addressbook-description'),
  key(APPLE, 'calendar-color'),
];

/** Properties stored in collection columns rather than the dead-property map. */
export const COLUMN_PROPS: Record<string, 'displayName' | 'description' | 'color' | 'timezone'> = {
  [key(DAV, 'displayname')]: 'displayName',
  [key(CALDAV, 'calendar-description')]: 'description',
  [key(CARDDAV, 'addressbook-description')]: 'description',
  [key(APPLE, 'calendar-color')]: 'color',
  [key(CALDAV, 'calendar-timezone')]: 'timezone',
};

/** Dead properties the server keeps for itself (scheduling markers): never shown, never settable. */
export const INTERNAL_NS = 'urn:haven:internal';
const isInternal = (k: string): boolean => k.startsWith(`{${INTERNAL_NS}}`);

/**
 * Where the xml:lang of a column property is kept (RFC 4918 §4.3 for any
 * property, RFC 4791 §5.2.1 for calendar-description: "Servers MUST return
 * any xml:lang attribute if set").
 */
export const langKey = (k: string): string => `{${INTERNAL_NS}}lang:${k}`;

function visibleDead(props: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) if (!isInternal(k)) out[k] = v;
  return out;
}

/** Live properties a client may not set. */
export function isProtected(k: string): boolean {
  return isInternal(k) || (k in live && !(k in COLUMN_PROPS));
}

export interface PropResult {
  ok: string[];
  missing: string[];
}

export interface PropRequest {
  kind: 'prop' | 'allprop' | 'propname';
  names: { ns: string; local: string }[];
}

/** Evaluates a PROPFIND prop request on one resource; returns serialized <prop> members. */
export function evaluateProps(r: Resource, req: PropRequest, ctx: Ctx, w: XmlWriter, extra?: (ns: string, local: string) => string | undefined): PropResult {
  const ok: string[] = [];
  const missing: string[] = [];
  const dead = r.t === 'collection' ? visibleDead(r.col.props) : {};
  if (req.kind === 'propname') {
    for (const k of Object.keys(live)) {
      const m = /^\{(.*)\}(.*)$/.exec(k)!;
      if (live[k](r, ctx, w) !== undefined) ok.push(w.el(m[1], m[2]));
    }
    for (const k of Object.keys(dead)) {
      const m = /^\{(.*)\}(.*)$/.exec(k)!;
      ok.push(`<${m[2]} xmlns="${escapeXml(m[1])}"/>`);
    }
    return { ok, missing };
  }
  const names =
    req.kind === 'allprop'
      ? [...ALLPROP, ...Object.keys(dead)].map((k) => {
          const m = /^\{(.*)\}(.*)$/.exec(k)!;
          return { ns: m[1], local: m[2] };
        }).concat(req.names)
      : req.names;
  for (const { ns, local } of names) {
    const k = key(ns, local);
    const x = extra?.(ns, local);
    if (x !== undefined) {
      ok.push(x);
      continue;
    }
    const g = live[k];
    const v = g ? g(r, ctx, w) : undefined;
    const lang = r.t === 'collection' && k in COLUMN_PROPS ? r.col.props[langKey(k)] : undefined;
    if (v !== undefined) ok.push(w.el(ns, local, v, lang ? ` xml:lang="${escapeXml(lang)}"` : ''));
    else if (dead[k] !== undefined) ok.push(dead[k]);
    else if (req.kind === 'prop') missing.push(w.el(ns, local));
  }
  return { ok, missing };
}
