/**
 * @module node/dav/methods/post
 * POST to the scheduling outbox (RFC 6638 §5): a VFREEBUSY request from the
 * caller, answered per attendee in one CALDAV:schedule-response. A local
 * attendee's busy time comes from all of their calendars when their mailbox
 * is open (managed mode, or its owner recently signed in); a closed mailbox
 * or another server answers with a request status instead. Invitations are
 * not POSTed: they follow from PUT and DELETE (implicit scheduling).
 */
import ICAL from 'ical.js';
import { MailboxLockedError, type Lease } from '../../store/index.js';
import type { Ctx } from '../context.js';
import { readBody, resolve } from '../context.js';
import { DavError, pre } from '../errors.js';
import { formatUtc, parseVCalendar, toMs } from '../ical.js';
import { busyPeriods } from '../reports/free-busy.js';
import { XML_TYPE } from '../respond.js';
import { calAddress } from '../scheduling/itip.js';
import { CALDAV, DAV, XmlWriter, escapeXml } from '../xml.js';

/** Most attendees in one free-busy request. */
const MAX_ATTENDEES = 100;

type Time = InstanceType<typeof ICAL.Time>;

/** The attendee's mailbox: the caller's own, another local one (open or locked), or none here. */
async function mailboxOf(ctx: Ctx, address: string): Promise<{ t: 'own' } | { t: 'other'; lease: Lease } | { t: 'locked' } | { t: 'unknown' }> {
  if (address === ctx.address) return { t: 'own' };
  const account = ctx.store.directory.getAccount(address);
  if (!account) return { t: 'unknown' };
  try {
    return { t: 'other', lease: await ctx.store.openMailbox(account.id) };
  } catch (err) {
    if (err instanceof MailboxLockedError) return { t: 'locked' };
    throw err;
  }
}

function freeBusyReply(dav: Lease['mailbox']['dav'], uid: string, organizer: string, attendee: string, range: { start: number; end: number }): string {
  const cols = dav.collections('calendar').map((c) => c.id);
  const lines = busyPeriods(dav, cols, range).map((p) => `FREEBUSY;FBTYPE=${p.type}:${formatUtc(p.start)}/${formatUtc(p.end)}`);
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Haven//DAV scheduling//EN',
    'METHOD:REPLY',
    'BEGIN:VFREEBUSY',
    `UID:${uid}`,
    `DTSTAMP:${formatUtc(Date.now())}`,
    `DTSTART:${formatUtc(range.start)}`,
    `DTEND:${formatUtc(range.end)}`,
    `ORGANIZER:mailto:${organizer}`,
    `ATTENDEE:mailto:${attendee}`,
    ...lines,
    'END:VFREEBUSY',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

export async function post(ctx: Ctx): Promise<Response> {
  const res = resolve(ctx);
  if (res.t !== 'schedule') throw new DavError(405, null, 'POST goes to your scheduling outbox (see schedule-outbox-URL)', { Allow: 'OPTIONS, PROPFIND, REPORT, GET' });
  if (res.box !== 'outbox') throw new DavError(405, null, 'POST goes to the outbox, not the inbox');
  const type = (ctx.req.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'text/calendar') throw new DavError(415, pre.cal('supported-calendar-data'), 'POST to the outbox takes text/calendar');
  const body = await readBody(ctx.req, ctx.limits.maxResourceSize, () => new DavError(413, null, 'the scheduling request is too large'));
  const vcal = parseVCalendar(body);
  if (String(vcal.getFirstPropertyValue('method') ?? '').toUpperCase() !== 'REQUEST') throw new DavError(403, pre.cal('valid-calendar-data'), 'the outbox takes METHOD:REQUEST');
  const fb = vcal.getFirstSubcomponent('vfreebusy');
  if (!fb) throw new DavError(403, pre.cal('valid-calendar-data'), 'the outbox answers free-busy requests (VFREEBUSY); invitations are sent when you save the event');
  const organizer = calAddress(fb.getFirstPropertyValue('organizer'));
  // RFC 6638 §6.2: the originator must be the owner of the outbox.
  if (organizer !== ctx.address) throw new DavError(403, pre.cal('organizer-allowed'), 'ORGANIZER must be your own address (mailto:)');
  const start = fb.getFirstPropertyValue('dtstart') as Time | null;
  const end = fb.getFirstPropertyValue('dtend') as Time | null;
  if (!start || !end || toMs(end) <= toMs(start)) throw new DavError(403, pre.cal('valid-calendar-data'), 'VFREEBUSY needs DTSTART before DTEND');
  const range = { start: toMs(start), end: toMs(end) };
  const attendees = fb.getAllProperties('attendee').map((p) => ({ raw: String(p.getFirstValue()), address: calAddress(p.getFirstValue()) }));
  if (attendees.length === 0) throw new DavError(403, pre.cal('valid-calendar-data'), 'name at least one ATTENDEE');
  if (attendees.length > MAX_ATTENDEES) throw new DavError(403, pre.cal('valid-calendar-data'), `at most ${MAX_ATTENDEES} attendees per request`);
  const uid = String(fb.getFirstPropertyValue('uid') ?? 'freebusy');
  const w = new XmlWriter();
  const responses: string[] = [];
  for (const a of attendees) {
    let status: string;
    let data = '';
    const mb = a.address ? await mailboxOf(ctx, a.address) : ({ t: 'unknown' } as const);
    if (mb.t === 'unknown') status = '3.7;Invalid calendar user';
    // In zero-access mode a signed-out owner's calendars cannot be read by anyone, the server included.
    else if (mb.t === 'locked') status = '5.1;Service unavailable';
    else {
      try {
        data = freeBusyReply((mb.t === 'own' ? ctx.lease : mb.lease).mailbox.dav, uid, organizer, a.address!, range);
      } finally {
        if (mb.t === 'other') mb.lease.release();
      }
      status = '2.0;Success';
    }
    responses.push(
      w.el(
        CALDAV,
        'response',
        w.el(CALDAV, 'recipient', w.text(DAV, 'href', a.raw)) + w.text(CALDAV, 'request-status', status) + (data ? w.el(CALDAV, 'calendar-data', escapeXml(data)) : ''),
      ),
    );
  }
  return new Response(w.document(CALDAV, 'schedule-response', responses.join('')), { status: 200, headers: { 'Content-Type': XML_TYPE } });
}


