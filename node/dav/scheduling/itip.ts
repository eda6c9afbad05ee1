/**
 * @module node/dav/scheduling/itip
 * iTIP (RFC 5546) as the server does it for implicit scheduling (RFC 6638
 * §3.2): reading who organizes and who attends, deciding which messages a
 * change to a stored object sends, building REQUEST, CANCEL and REPLY
 * messages, and applying received ones to a stored object. Pure: text in,
 * text out; the callers store and send.
 */
import ICAL from 'ical.js';
import { parseVCalendar } from '../ical.js';

type Comp = InstanceType<typeof ICAL.Component>;
type Prop = InstanceType<typeof ICAL.Property>;

export type ItipMethod = 'REQUEST' | 'CANCEL' | 'REPLY';

export interface ItipMessage {
  method: ItipMethod;
  /** Calendar user addresses (lowercase, no mailto:). */
  to: string[];
  /** A complete VCALENDAR with METHOD. */
  ics: string;
}

export class ItipError extends Error {
  override name = 'ItipError';
}

/** mailto:Bob@Example.COM -> bob@example.com; null for anything that is not a mailto address. */
export function calAddress(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const m = /^mailto:(.+)$/i.exec(v.trim());
  return m ? m[1].trim().toLowerCase() : null;
}

const SCHEDULED = ['vevent', 'vtodo'];

/** The scheduled components (master and overrides) of a calendar. */
function components(vcal: Comp): Comp[] {
  return vcal.getAllSubcomponents().filter((c) => SCHEDULED.includes(c.name));
}

function recurrenceKey(c: Comp): string {
  const r = c.getFirstProperty('recurrence-id');
  return r ? String(r.getFirstValue()) : '';
}

/** Servers act for attendees unless the client said it schedules itself (RFC 6638 §7.1). */
function serverSchedules(p: Prop): boolean {
  const agent = p.getParameter('schedule-agent');
  return !agent || String(agent).toUpperCase() === 'SERVER';
}

export interface Participants {
  uid: string;
  organizer: string | null;
  /** attendee -> PARTSTAT per component (recurrence key; '' for the master). */
  attendees: Map<string, Map<string, string>>;
  /** Attendees the server schedules for (no SCHEDULE-AGENT=CLIENT/NONE). */
  scheduled: Set<string>;
  sequence: number;
}

export function participants(vcal: Comp): Participants {
  const comps = components(vcal);
  let organizer: string | null = null;
  const attendees = new Map<string, Map<string, string>>();
  const scheduled = new Set<string>();
  let sequence = 0;
  for (const c of comps) {
    organizer ??= calAddress(c.getFirstPropertyValue('organizer'));
    sequence = Math.max(sequence, Number(c.getFirstPropertyValue('sequence') ?? 0) || 0);
    for (const a of c.getAllProperties('attendee')) {
      const addr = calAddress(a.getFirstValue());
      if (!addr) continue;
      if (!attendees.has(addr)) attendees.set(addr, new Map());
      attendees.get(addr)!.set(recurrenceKey(c), String(a.getParameter('partstat') ?? 'NEEDS-ACTION').toUpperCase());
      if (serverSchedules(a)) scheduled.add(addr);
    }
  }
  return { uid: String(comps[0]?.getFirstPropertyValue('uid') ?? ''), organizer, attendees, scheduled, sequence };
}

/** A copy of the calendar as an iTIP message: METHOD set, server-only parameters removed. */
function asMessage(vcal: Comp, method: ItipMethod): Comp {
  const out = new ICAL.Component(JSON.parse(JSON.stringify(vcal.toJSON())));
  out.removeAllProperties('method');
  out.addPropertyWithValue('method', method);
  for (const c of components(out)) {
    for (const p of [...c.getAllProperties('attendee'), ...c.getAllProperties('organizer')]) {
      p.removeParameter('schedule-status');
      p.removeParameter('schedule-agent');
      p.removeParameter('schedule-force-send');
    }
  }
  return out;
}

function text(vcal: Comp): string {
  return vcal.toString() + '\r\n';
}

/** Keeps only the components whose recurrence keys are in `keep` (all when undefined), marking them cancelled. */
function cancelled(vcal: Comp): Comp {
  const out = asMessage(vcal, 'CANCEL');
  for (const c of components(out)) {
    c.removeAllProperties('status');
    c.addPropertyWithValue('status', 'CANCELLED');
    bumpSequence(c);
  }
  return out;
}

function bumpSequence(c: Comp): void {
  const seq = Number(c.getFirstPropertyValue('sequence') ?? 0) || 0;
  c.removeAllProperties('sequence');
  c.addPropertyWithValue('sequence', seq + 1);
}

/**
 * A REPLY from `attendee`: per component, only UID, RECURRENCE-ID, SEQUENCE,
 * DTSTAMP, DTSTART, ORGANIZER and the attendee's own ATTENDEE line
 * (RFC 5546 §3.2.3), with `partstat` forced when given (a decline on delete).
 */
function reply(vcal: Comp, attendee: string, partstat?: string): Comp {
  const out = new ICAL.Component('vcalendar');
  out.addPropertyWithValue('version', '2.0');
  out.addPropertyWithValue('prodid', '-//Haven//DAV scheduling//EN');
  out.addPropertyWithValue('method', 'REPLY');
  for (const c of components(vcal)) {
    const mine = c.getAllProperties('attendee').find((a) => calAddress(a.getFirstValue()) === attendee);
    if (!mine) continue;
    const r = new ICAL.Component(c.name);
    for (const name of ['uid', 'recurrence-id', 'sequence', 'dtstart', 'organizer']) {
      const p = c.getFirstProperty(name);
      if (p) r.addProperty(ICAL.Property.fromString(p.toICALString()));
    }
    r.addPropertyWithValue('dtstamp', ICAL.Time.fromJSDate(new Date(), true));
    const a = ICAL.Property.fromString(mine.toICALString());
    a.removeParameter('schedule-status');
    a.removeParameter('schedule-agent');
    a.removeParameter('rsvp');
    if (partstat) a.setParameter('partstat', partstat);
    r.addProperty(a);
    out.addSubcomponent(r);
  }
  return out;
}

/**
 * What a change by `actor` sends (RFC 6638 §3.2): an organizer's write sends
 * REQUEST to every scheduled attendee and CANCEL to removed ones; an
 * organizer's delete cancels for everyone; an attendee's changed PARTSTAT, or
 * an attendee's delete (a decline), replies to the organizer. `before` and
 * `after` are stored texts, null for none.
 */
export function outgoing(actor: string, before: string | null, after: string | null): ItipMessage[] {
  const old = before !== null ? parseVCalendar(before) : null;
  const cur = after !== null ? parseVCalendar(after) : null;
  const pOld = old ? participants(old) : null;
  const pCur = cur ? participants(cur) : null;
  const organizer = pCur?.organizer ?? pOld?.organizer ?? null;
  if (!organizer) return [];
  const out: ItipMessage[] = [];
  if (organizer === actor) {
    const others = (p: Participants | null) => new Set([...(p?.scheduled ?? [])].filter((a) => a !== actor));
    const now = others(pCur);
    const was = others(pOld);
    if (cur && now.size) out.push({ method: 'REQUEST', to: [...now].sort(), ics: text(asMessage(cur, 'REQUEST')) });
    const gone = [...was].filter((a) => !now.has(a)).sort();
    if (old && gone.length) out.push({ method: 'CANCEL', to: gone, ics: text(cancelled(old)) });
    return out;
  }
  const mineNow = pCur?.attendees.get(actor);
  const mineBefore = pOld?.attendees.get(actor);
  if (!cur) {
    // The attendee deleted the event: decline, unless they had declined already.
    if (old && mineBefore && pOld!.scheduled.has(actor) && [...mineBefore.values()].some((s) => s !== 'DECLINED'))
      out.push({ method: 'REPLY', to: [organizer], ics: text(reply(old, actor, 'DECLINED')) });
    return out;
  }
  if (!mineNow || !pCur!.scheduled.has(actor)) return out;
  const changed = [...mineNow].some(([k, s]) => (mineBefore?.get(k) ?? 'NEEDS-ACTION') !== s);
  if (changed) out.push({ method: 'REPLY', to: [organizer], ics: text(reply(cur, actor)) });
  return out;
}

/** A received iTIP message, checked for what applying it needs. */
export interface Incoming {
  method: ItipMethod;
  vcal: Comp;
  uid: string;
  organizer: string | null;
  /** For REPLY: the one attendee who replies. */
  replier: string | null;
  component: 'VEVENT' | 'VTODO';
}

export function parseItip(ics: string): Incoming {
  const vcal = parseVCalendar(ics);
  const method = String(vcal.getFirstPropertyValue('method') ?? '').toUpperCase();
  if (method !== 'REQUEST' && method !== 'CANCEL' && method !== 'REPLY') throw new ItipError(`iTIP method ${method || '(none)'} is not handled`);
  const comps = components(vcal);
  if (!comps.length) throw new ItipError('no VEVENT or VTODO in the iTIP message');
  const uids = new Set(comps.map((c) => String(c.getFirstPropertyValue('uid') ?? '')));
  if (uids.size !== 1 || [...uids][0] === '') throw new ItipError('the iTIP message needs exactly one UID');
  if (new Set(comps.map((c) => c.name)).size !== 1) throw new ItipError('mixed component types in one iTIP message');
  const p = participants(vcal);
  let replier: string | null = null;
  if (method === 'REPLY') {
    const who = [...p.attendees.keys()];
    if (who.length !== 1) throw new ItipError('a REPLY names exactly one attendee');
    replier = who[0];
  }
  return { method, vcal, uid: p.uid, organizer: p.organizer, replier, component: comps[0].name === 'vtodo' ? 'VTODO' : 'VEVENT' };
}

/** The message without METHOD, as it is stored. */
function stored(vcal: Comp): Comp {
  const out = new ICAL.Component(JSON.parse(JSON.stringify(vcal.toJSON())));
  out.removeAllProperties('method');
  return out;
}

/**
 * Applies a received message to the recipient's stored copy (null: none yet)
 * and returns the new text, or null when nothing should change. `sender` is
 * the mail's From address: REQUEST and CANCEL must come from the organizer,
 * a REPLY from its attendee, so nobody else can move or cancel events.
 */
export function applyIncoming(existing: string | null, msg: Incoming, sender: string, recipient: string): string | null {
  if (msg.method === 'REPLY') {
    if (msg.replier !== sender) throw new ItipError(`a REPLY for ${msg.replier} arrived from ${sender}`);
    if (existing === null) return null;
    const vcal = parseVCalendar(existing);
    if (participants(vcal).organizer !== recipient) return null;
    const byKey = new Map(components(vcal).map((c) => [recurrenceKey(c), c]));
    let changed = false;
    for (const rc of components(msg.vcal)) {
      const target = byKey.get(recurrenceKey(rc)) ?? byKey.get('');
      const ra = rc.getFirstProperty('attendee');
      if (!target || !ra) continue;
      const partstat = String(ra.getParameter('partstat') ?? 'NEEDS-ACTION').toUpperCase();
      for (const a of target.getAllProperties('attendee')) {
        if (calAddress(a.getFirstValue()) !== msg.replier) continue;
        if (String(a.getParameter('partstat') ?? '').toUpperCase() !== partstat) changed = true;
        a.setParameter('partstat', partstat);
        a.removeParameter('rsvp');
        a.setParameter('schedule-status', '2.0');
      }
    }
    return changed ? vcal.toString() + '\r\n' : null;
  }
  if (msg.organizer !== sender) throw new ItipError(`a ${msg.method} organized by ${msg.organizer ?? 'nobody'} arrived from ${sender}`);
  const incomingSeq = participants(msg.vcal).sequence;
  if (existing === null) {
    // A cancellation of something never seen changes nothing.
    return msg.method === 'REQUEST' ? stored(msg.vcal).toString() + '\r\n' : null;
  }
  const vcal = parseVCalendar(existing);
  const cur = participants(vcal);
  if (cur.organizer !== msg.organizer) throw new ItipError(`event ${msg.uid} is organized by ${cur.organizer}, not ${msg.organizer}`);
  if (incomingSeq < cur.sequence) return null; // out of date (RFC 5546 §2.1.5)
  const incoming = components(msg.vcal);
  const partial = incoming.every((c) => c.getFirstProperty('recurrence-id'));
  if (msg.method === 'REQUEST' && !partial) {
    const next = stored(msg.vcal);
    // A re-sent REQUEST at the same sequence (another attendee replied) keeps this attendee's answer.
    if (incomingSeq === cur.sequence) {
      const mine = cur.attendees.get(recipient);
      for (const c of components(next))
        for (const a of c.getAllProperties('attendee'))
          if (calAddress(a.getFirstValue()) === recipient && mine?.get(recurrenceKey(c))) a.setParameter('partstat', mine.get(recurrenceKey(c))!);
    }
    return next.toString() + '\r\n';
  }
  if (msg.method === 'CANCEL' && !partial) {
    for (const c of components(vcal)) {
      c.removeAllProperties('status');
      c.addPropertyWithValue('status', 'CANCELLED');
    }
    return vcal.toString() + '\r\n';
  }
  // One or more instances: replace or add the overrides they name.
  for (const ic of incoming) {
    const copy = new ICAL.Component(JSON.parse(JSON.stringify(ic.toJSON())));
    if (msg.method === 'CANCEL') {
      copy.removeAllProperties('status');
      copy.addPropertyWithValue('status', 'CANCELLED');
    }
    const old = components(vcal).find((c) => recurrenceKey(c) === recurrenceKey(ic));
    if (old) vcal.removeSubcomponent(old);
    vcal.addSubcomponent(copy);
  }
  return vcal.toString() + '\r\n';
}
