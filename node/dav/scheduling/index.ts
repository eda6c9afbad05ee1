/**
 * @module node/dav/scheduling
 * Scheduling (RFC 6638) on top of the store, with iMIP (RFC 6047) as the
 * transport for every attendee, local or not: in zero-access mode another
 * account's mailbox is closed while its owner is away, so an invitation
 * travels as mail and lands in the attendee's INBOX (sealed if need be).
 *
 * - `sendFor`: after a PUT or DELETE, the REQUEST, CANCEL or REPLY messages
 *   the change implies go out through the ImipSender (the SMTP queue).
 * - `applyInbox`: whenever the owner's mailbox is open for a DAV request,
 *   iTIP messages that arrived in INBOX since the last look are applied to
 *   their calendars: invitations added or updated, cancellations marked,
 *   replies recorded on the organizer's copy. A marker (INBOX UID validity
 *   and UID) kept on the default calendar makes each message apply once.
 */
import { performance } from 'node:perf_hooks';
import type { Collection, DavRepo, Lease, Mailbox } from '../../store/index.js';
import type { Logger } from '../../util/log.js';
import type { ImipSender } from '../context.js';
import { DavError } from '../errors.js';
import { parseCalendarObject, primeSpans } from '../ical.js';
import { INTERNAL_NS } from '../props.js';
import { buildImipMessage, extractItip, fromIsAuthentic, hasItipPart } from './imip.js';
import { applyIncoming, ItipError, outgoing, parseItip } from './itip.js';

export { buildImipMessage, extractItip, fromIsAuthentic, type ImipOutgoing } from './imip.js';
export { applyIncoming, outgoing, parseItip, participants, ItipError, type ItipMessage } from './itip.js';

const MARKER = `{${INTERNAL_NS}}imip-seen`;
/** Work per request on received iTIP mail; each message's recurrence is budgeted on its own (recur-guard). */
const APPLY_SLICE_MS = 100;
/** On the first look, only invitations from the last 30 days are applied (older ones are history). */
const FIRST_LOOK_MS = 30 * 86_400_000;

/** Sends what a change by `actor` to a calendar object implies; failures are logged, the change stands. */
export async function sendFor(imip: ImipSender | undefined, log: Logger, actor: string, before: string | null, after: string | null): Promise<number> {
  if (!imip) return 0;
  let msgs;
  try {
    msgs = outgoing(actor, before, after);
  } catch (err) {
    if (err instanceof ItipError || err instanceof DavError) return 0;
    throw err;
  }
  for (const m of msgs) {
    try {
      await imip.send({ from: actor, to: m.to, method: m.method, ics: m.ics });
    } catch (err) {
      // The calendar change is already durable; a queue failure must not turn it into an error.
      log.warn({ err, method: m.method, recipients: m.to.length }, 'iMIP message could not be queued');
    }
  }
  return msgs.length;
}

function markerCollection(dav: DavRepo): Collection | null {
  const cals = dav.collections('calendar');
  return cals.find((c) => c.name === 'default') ?? cals[0] ?? null;
}

function safeName(uid: string): string {
  const base = uid.replace(/[^A-Za-z0-9._@-]/g, '_').replace(/^\.+/, '_').slice(0, 180);
  return `${base || 'event'}.ics`;
}

/** Stores text as an object of `col` (replacing `name` when given), with spans for time-range queries. */
function store(dav: DavRepo, col: Collection, name: string, text: string, ifMatch: string | undefined, origin: string): void {
  const parsed = parseCalendarObject(text, col.components);
  const r = dav.put(col.id, { name, uid: parsed.uid, data: text, component: parsed.component, firstStart: parsed.firstStart, lastEnd: parsed.lastEnd, ifMatch, ifNoneMatch: ifMatch ? undefined : '*' }, origin);
  primeSpans(r.etag, parsed);
}

/** Applies one received iTIP message for `recipient`; returns whether a calendar changed. */
export function applyItip(dav: DavRepo, recipient: string, ics: string, sender: string, origin = 'imip'): boolean {
  const msg = parseItip(ics);
  const cals = dav.collections('calendar');
  let col: Collection | undefined;
  let obj = null;
  for (const c of cals) {
    obj = dav.objectByUid(c.id, msg.uid);
    if (obj) {
      col = c;
      break;
    }
  }
  const next = applyIncoming(obj?.data ?? null, msg, sender, recipient);
  if (next === null) return false;
  if (obj && col) {
    store(dav, col, obj.name, next, obj.etag, origin);
    return true;
  }
  const target = cals.find((c) => c.name === 'default' && (c.components.length === 0 || c.components.includes(msg.component))) ?? cals.find((c) => c.components.length === 0 || c.components.includes(msg.component));
  if (!target) return false;
  let name = safeName(msg.uid);
  if (dav.object(target.id, name)) name = `${name.slice(0, -4)}-${Date.now().toString(36)}.ics`;
  store(dav, target, name, next, undefined, origin);
  return true;
}

/**
 * INBOX's `uidValidity:uidNext` when applyInbox last read it to the end, per
 * open mailbox: while it is unchanged no mail has arrived, and every DAV
 * request (a GET too) skips the calendar lookup.
 */
const caughtUp = new WeakMap<object, string>();

/**
 * Per open mailbox, whether anything that could bring new INBOX mail (new
 * messages anywhere, folders created, renamed or deleted) has committed
 * since applyInbox last read INBOX to the end. Changes are announced on the
 * mailbox's bus after they commit, so a quiet mailbox needs no look at all:
 * not even the INBOX row.
 */
const quiet = new WeakMap<Mailbox, { quiet: boolean }>();

function watch(mb: Mailbox): { quiet: boolean } {
  let w = quiet.get(mb);
  if (!w) {
    const state = { quiet: false };
    mb.onChange((c) => {
      if (c.type === 'exists' || c.type === 'folders') state.quiet = false;
    });
    quiet.set(mb, (w = state));
  }
  return w;
}

/**
 * Applies the iTIP messages that reached INBOX since the last look. Cheap
 * when nothing arrived: one folder lookup.
 */
export function applyInbox(lease: Lease, recipient: string, log: Logger): number {
  const mb = lease.mailbox;
  const watched = watch(mb);
  if (watched.quiet) return 0;
  const inbox = mb.folders.get('INBOX');
  if (!inbox) return 0;
  const state = `${inbox.uidValidity}:${inbox.uidNext}`;
  if (caughtUp.get(mb) === state) {
    watched.quiet = true;
    return 0;
  }
  const holder = markerCollection(mb.dav);
  if (!holder) return 0;
  const mark = typeof holder.props[MARKER] === 'string' ? holder.props[MARKER] : '';
  const [validity, seen] = mark.split(':').map(Number);
  const fresh = validity !== inbox.uidValidity || !Number.isInteger(seen);
  const from = fresh ? 1 : seen + 1;
  if (from >= inbox.uidNext) {
    caughtUp.set(mb, state);
    watched.quiet = true;
    return 0;
  }
  const since = Date.now() - FIRST_LOOK_MS;
  let applied = 0;
  let last = fresh ? 0 : seen;
  const started = performance.now();
  let cut = false;
  for (const m of mb.messages.list(inbox.id, { from, to: inbox.uidNext })) {
    // Bounded per request: what is left is applied on the next one (the marker says where to resume).
    if (performance.now() - started > APPLY_SLICE_MS) {
      cut = true;
      break;
    }
    last = Math.max(last, m.uid);
    if (fresh && m.internalDate < since) continue;
    const parsed = mb.messages.parsed(m.blobId);
    if (!hasItipPart(parsed)) continue;
    const raw = mb.messages.raw(m.blobId);
    const it = extractItip(raw, parsed);
    // A copy of one's own iTIP mail (Bcc, a list) carries nothing new: the calendar already has it.
    if (!it || it.from === recipient) continue;
    if (!fromIsAuthentic(raw, it.from)) {
      // Unauthenticated mail could name anyone as organizer or attendee: leave it to the owner's mail client.
      log.info({ uid: m.uid }, 'iMIP message not applied: its sender is not authenticated');
      continue;
    }
    try {
      if (applyItip(mb.dav, recipient, it.ics, it.from)) applied++;
    } catch (err) {
      if (!(err instanceof ItipError || err instanceof DavError)) throw err;
      // Forged, out of order or broken: leave the calendar alone, keep the mail.
      log.info({ uid: m.uid, why: err.message }, 'iMIP message not applied');
    }
  }
  if (last !== (fresh ? -1 : seen)) {
    const current = mb.dav.collection('calendar', holder.name);
    if (current) mb.dav.updateCollection(current.id, { props: { ...current.props, [MARKER]: `${inbox.uidValidity}:${last}` } });
  }
  if (!cut) {
    caughtUp.set(mb, state);
    watched.quiet = true;
  }
  return applied;
}

/**
 * An ImipSender over any mail submission function (node/main passes the SMTP
 * outbound queue, which also delivers to local recipients): builds the RFC
 * 6047 message and hands it over with its envelope.
 */
export function imipMailSender(submit: (envelope: { from: string; to: string[] }, raw: Buffer) => Promise<void>): ImipSender {
  return {
    send: (m) => submit({ from: m.from, to: m.to }, buildImipMessage(m)),
  };
}
