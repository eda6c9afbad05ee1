/**
 * Scheduling (RFC 6638) with iMIP (RFC 6047): discovery of the inbox and
 * outbox, an invitation round trip between two accounts through their
 * mailboxes (the sender delivers the built message locally, as the SMTP
 * queue does for local recipients), cancellation, forged messages refused,
 * and free-busy over POST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imipMailSender } from '../../node/dav/index.js';
import { parseMessage } from '../../node/mime/index.js';
import { extractItip } from '../../node/dav/scheduling/imip.js';
import { ALICE, BOB, client, dav, startHarness, type DavHarness } from './helpers.js';

const CAROL = { address: 'carol@example.test', password: 'carol password long' };

interface Sent {
  from: string;
  to: string[];
  raw: Buffer;
}
const sent: Sent[] = [];
let h: DavHarness;

beforeAll(async () => {
  h = await startHarness({
    accounts: [ALICE, BOB, CAROL],
    imip: (t) =>
      imipMailSender(async (env, raw) => {
        sent.push({ ...env, raw });
        for (const to of env.to) {
          const acct = t.store.directory.getAccount(to);
          if (acct) await t.store.deliver(acct.id, raw);
        }
      }),
  });
});
afterAll(async () => h.close());

const ALICE_CAL = '/dav/calendars/alice@example.test/default/';
const BOB_CAL = '/dav/calendars/bob@example.test/default/';

function meeting(opts: { seq?: number; bobPartstat?: string; attendees?: string[]; summary?: string } = {}): string {
  const attendees = opts.attendees ?? ['bob@example.test'];
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Haven test//EN',
    'BEGIN:VEVENT',
    'UID:meeting-1@example.test',
    'DTSTAMP:20260101T000000Z',
    'DTSTART:20270315T140000Z',
    'DTEND:20270315T150000Z',
    `SEQUENCE:${opts.seq ?? 0}`,
    `SUMMARY:${opts.summary ?? 'Planning'}`,
    'ORGANIZER;CN=Alice:mailto:alice@example.test',
    'ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.test',
    ...attendees.map((a) => `ATTENDEE;RSVP=TRUE;PARTSTAT=${a === 'bob@example.test' ? (opts.bobPartstat ?? 'NEEDS-ACTION') : 'NEEDS-ACTION'}:mailto:${a}`),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

const put = (user: typeof ALICE, path: string, body: string, headers: Record<string, string> = {}) =>
  dav(h, 'PUT', path, { user, body, headers: { 'Content-Type': 'text/calendar; charset=utf-8', ...headers } });

function itipOf(s: Sent) {
  const it = extractItip(s.raw, parseMessage(s.raw));
  expect(it).not.toBeNull();
  return it!;
}

describe('discovery', () => {
  it('advertises calendar-auto-schedule and the principal\'s inbox and outbox', async () => {
    const o = await dav(h, 'OPTIONS', '/dav/', { user: null });
    expect(o.headers.get('dav')).toContain('calendar-auto-schedule');
    const r = await dav(h, 'PROPFIND', '/dav/principals/alice@example.test/', {
      headers: { Depth: '0' },
      body: '<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:schedule-inbox-URL/><c:schedule-outbox-URL/><c:calendar-user-address-set/></d:prop></d:propfind>',
    });
    expect(r.status).toBe(207);
    expect(r.text).toContain('<cal:schedule-inbox-URL><d:href>/dav/principals/alice@example.test/inbox/</d:href></cal:schedule-inbox-URL>');
    expect(r.text).toContain('<cal:schedule-outbox-URL><d:href>/dav/principals/alice@example.test/outbox/</d:href></cal:schedule-outbox-URL>');
    expect(r.text).toContain('<d:href>mailto:alice@example.test</d:href>');
  });

  it('the inbox is a schedule-inbox naming the default calendar; the outbox grants schedule-send', async () => {
    const inbox = await dav(h, 'PROPFIND', '/dav/principals/alice@example.test/inbox/', {
      headers: { Depth: '1' },
      body: '<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:resourcetype/><c:schedule-default-calendar-URL/></d:prop></d:propfind>',
    });
    expect(inbox.status).toBe(207);
    expect(inbox.text).toContain('<d:resourcetype><d:collection/><cal:schedule-inbox/></d:resourcetype>');
    expect(inbox.text).toContain(`<cal:schedule-default-calendar-URL><d:href>${ALICE_CAL}</d:href></cal:schedule-default-calendar-URL>`);
    expect(inbox.text.match(/<d:response>/g)).toHaveLength(1);
    const outbox = await dav(h, 'PROPFIND', '/dav/principals/alice@example.test/outbox/', {
      headers: { Depth: '0' },
      body: '<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:current-user-privilege-set/></d:prop></d:propfind>',
    });
    expect(outbox.text).toContain('<cal:schedule-outbox/>');
    expect(outbox.text).toContain('<d:privilege><cal:schedule-send/></d:privilege>');
  });

  it('another account\'s inbox and outbox are 404', async () => {
    const r = await dav(h, 'PROPFIND', '/dav/principals/bob@example.test/outbox/', { headers: { Depth: '0' } });
    expect(r.status).toBe(404);
    const p = await dav(h, 'POST', '/dav/principals/bob@example.test/outbox/', { body: 'x', headers: { 'Content-Type': 'text/calendar' } });
    expect(p.status).toBe(404);
  });
});

describe('an invitation round trip by iMIP', () => {
  let bobEtag = '';

  it('the organizer\'s PUT sends one REQUEST to the attendee, as RFC 6047 mail', async () => {
    sent.length = 0;
    const r = await put(ALICE, ALICE_CAL + 'meeting.ics', meeting());
    expect(r.status).toBe(201);
    expect(sent).toHaveLength(1);
    expect(sent[0].from).toBe('alice@example.test');
    expect(sent[0].to).toEqual(['bob@example.test']);
    const text = sent[0].raw.toString();
    expect(text).toMatch(/^Subject: Invitation: Planning\r$/m);
    expect(text).toContain('Content-Type: text/calendar; charset=utf-8; method=REQUEST');
    const it = itipOf(sent[0]);
    expect(it.from).toBe('alice@example.test');
    expect(it.ics).toContain('METHOD:REQUEST');
    expect(it.ics).toContain('UID:meeting-1@example.test');
  });

  it('the invitation is in the attendee\'s default calendar on their next request', async () => {
    const c = await client(h, BOB);
    const cal = (await c.fetchCalendars()).find((x) => x.url.endsWith('/default/'))!;
    const objs = await c.fetchCalendarObjects({ calendar: cal });
    const inv = objs.find((o) => String(o.data).includes('UID:meeting-1@example.test'));
    expect(inv).toBeDefined();
    expect(inv!.data).not.toContain('METHOD:');
    expect(inv!.data).toContain('SUMMARY:Planning');
    expect(new URL(inv!.url, h.base).pathname).toBe(BOB_CAL + 'meeting-1@example.test.ics');
    bobEtag = inv!.etag!;
    // Applied once: a second look changes nothing.
    const again = await dav(h, 'GET', BOB_CAL + 'meeting-1@example.test.ics', { user: BOB });
    expect(again.headers.get('etag')).toBe(bobEtag);
  });

  it('the attendee accepts: one REPLY goes to the organizer, and the organizer\'s copy records it', async () => {
    sent.length = 0;
    const cur = await dav(h, 'GET', BOB_CAL + 'meeting-1@example.test.ics', { user: BOB });
    const accepted = cur.text.replace(/ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:bob@example\.test/, 'ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.test');
    expect(accepted).not.toBe(cur.text);
    const r = await put(BOB, BOB_CAL + 'meeting-1@example.test.ics', accepted, { 'If-Match': bobEtag });
    expect(r.status).toBe(204);
    expect(sent).toHaveLength(1);
    expect(sent[0].to).toEqual(['alice@example.test']);
    const it = itipOf(sent[0]);
    expect(it.ics).toContain('METHOD:REPLY');
    expect(it.ics.replace(/\r\n /g, '')).toContain('ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.test');
    expect(it.ics).not.toContain('mailto:alice@example.test\r\nEND');

    const org = await dav(h, 'GET', ALICE_CAL + 'meeting.ics');
    const unfolded = org.text.replace(/\r\n /g, '');
    expect(unfolded).toMatch(/ATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2\.0:mailto:bob@example\.test/);
    expect(unfolded).toContain('ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.test');
  });

  it('an organizer update re-invites and keeps the attendee\'s answer when only others changed', async () => {
    sent.length = 0;
    const cur = await dav(h, 'GET', ALICE_CAL + 'meeting.ics');
    const moved = cur.text.replace('SUMMARY:Planning', 'SUMMARY:Planning (room 2)').replace('SEQUENCE:0', 'SEQUENCE:1');
    expect((await put(ALICE, ALICE_CAL + 'meeting.ics', moved, { 'If-Match': cur.headers.get('etag')! })).status).toBe(204);
    expect(sent.map((s) => s.to)).toEqual([['bob@example.test']]);
    const bob = await dav(h, 'GET', BOB_CAL + 'meeting-1@example.test.ics', { user: BOB });
    expect(bob.text).toContain('SUMMARY:Planning (room 2)');
    expect(bob.text).toContain('SEQUENCE:1');
  });

  it('removing an attendee cancels for them only', async () => {
    sent.length = 0;
    const withCarol = meeting({ seq: 2, attendees: ['bob@example.test', 'carol@elsewhere.example'] });
    const cur = await dav(h, 'GET', ALICE_CAL + 'meeting.ics');
    expect((await put(ALICE, ALICE_CAL + 'meeting.ics', withCarol, { 'If-Match': cur.headers.get('etag')! })).status).toBe(204);
    expect(sent).toHaveLength(1);
    expect(sent[0].to).toEqual(['bob@example.test', 'carol@elsewhere.example']);
    sent.length = 0;
    const next = await dav(h, 'GET', ALICE_CAL + 'meeting.ics');
    expect((await put(ALICE, ALICE_CAL + 'meeting.ics', meeting({ seq: 3 }), { 'If-Match': next.headers.get('etag')! })).status).toBe(204);
    const methods = sent.map((s) => [itipOf(s).ics.match(/METHOD:(\w+)/)![1], s.to.join(',')]);
    expect(methods).toEqual([
      ['REQUEST', 'bob@example.test'],
      ['CANCEL', 'carol@elsewhere.example'],
    ]);
  });

  it('the organizer\'s delete cancels: the attendee\'s copy is marked CANCELLED', async () => {
    sent.length = 0;
    expect((await dav(h, 'DELETE', ALICE_CAL + 'meeting.ics')).status).toBe(204);
    expect(sent).toHaveLength(1);
    expect(itipOf(sent[0]).ics).toContain('METHOD:CANCEL');
    const bob = await dav(h, 'GET', BOB_CAL + 'meeting-1@example.test.ics', { user: BOB });
    expect(bob.status).toBe(200);
    expect(bob.text).toContain('STATUS:CANCELLED');
  });
});

describe('forged and stray messages', () => {
  const forge = (from: string, ics: string) =>
    Buffer.from(
      [`From: ${from}`, 'To: alice@example.test', 'Subject: x', 'MIME-Version: 1.0', 'Content-Type: text/calendar; charset=utf-8; method=' + /METHOD:(\w+)/.exec(ics)![1], '', ics].join('\r\n'),
    );

  it('a REPLY for bob sent by someone else does not change the organizer\'s event', async () => {
    sent.length = 0;
    expect((await put(ALICE, ALICE_CAL + 'forged.ics', meeting().replace('meeting-1@', 'forged-1@'))).status).toBe(201);
    const before = await dav(h, 'GET', ALICE_CAL + 'forged.ics');
    const reply = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//x//EN', 'METHOD:REPLY', 'BEGIN:VEVENT', 'UID:forged-1@example.test', 'DTSTAMP:20260101T000000Z', 'DTSTART:20270315T140000Z', 'ORGANIZER:mailto:alice@example.test', 'ATTENDEE;PARTSTAT=DECLINED:mailto:bob@example.test', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    const alice = h.t.store.directory.getAccount(ALICE.address)!;
    await h.t.store.deliver(alice.id, forge('mallory@evil.example', reply));
    const after = await dav(h, 'GET', ALICE_CAL + 'forged.ics');
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
    // The same reply from bob's own address is applied.
    await h.t.store.deliver(alice.id, forge('bob@example.test', reply));
    const applied = await dav(h, 'GET', ALICE_CAL + 'forged.ics');
    expect(applied.text.replace(/\r\n /g, '')).toContain('PARTSTAT=DECLINED;SCHEDULE-STATUS=2.0:mailto:bob@example.test');
  });

  it('mail from outside is applied only when our MX found DMARC or aligned DKIM pass (the topmost verdict)', async () => {
    const ev = meeting({ attendees: ['dan@remote.example'] }).replace(/meeting-1@/g, 'outside-1@');
    expect((await put(ALICE, ALICE_CAL + 'outside.ics', ev)).status).toBe(201);
    const alice = h.t.store.directory.getAccount(ALICE.address)!;
    const reply = (partstat: string) =>
      ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//x//EN', 'METHOD:REPLY', 'BEGIN:VEVENT', 'UID:outside-1@example.test', 'DTSTAMP:20260101T000000Z', 'DTSTART:20270315T140000Z', 'ORGANIZER:mailto:alice@example.test', `ATTENDEE;PARTSTAT=${partstat}:mailto:dan@remote.example`, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    const withAr = (ar: string[], partstat: string) => Buffer.concat([Buffer.from(ar.map((a) => `Authentication-Results: ${a}\r\n`).join('')), forge('dan@remote.example', reply(partstat))]);
    const partstat = async () => /PARTSTAT=([A-Z-]+)[^:]*:mailto:dan@remote\.example/.exec((await dav(h, 'GET', ALICE_CAL + 'outside.ics')).text.replace(/\r\n /g, ''))![1];

    await h.t.store.deliver(alice.id, withAr(['mail.example.test;\r\n spf=pass smtp.mailfrom=dan@remote.example;\r\n dmarc=fail (p=REJECT) header.from=remote.example'], 'ACCEPTED'));
    expect(await partstat()).toBe('NEEDS-ACTION');
    // A pass written by the sender sits below our verdict and counts for nothing.
    await h.t.store.deliver(alice.id, withAr(['mail.example.test; dmarc=none header.from=remote.example', 'mail.example.test; dmarc=pass header.from=remote.example'], 'ACCEPTED'));
    expect(await partstat()).toBe('NEEDS-ACTION');
    await h.t.store.deliver(alice.id, withAr(['mail.example.test;\r\n dkim=pass header.i=@mail.remote.example header.s=s1 header.a=rsa-sha256;\r\n dmarc=none header.from=remote.example'], 'TENTATIVE'));
    expect(await partstat()).toBe('TENTATIVE');
    await h.t.store.deliver(alice.id, withAr(['mail.example.test;\r\n dkim=none;\r\n dmarc=pass (p=NONE) header.from=remote.example'], 'ACCEPTED'));
    expect(await partstat()).toBe('ACCEPTED');
  });

  it('a CANCEL from someone who is not the organizer leaves the attendee\'s copy alone', async () => {
    const c = await dav(h, 'GET', BOB_CAL + 'forged-1@example.test.ics', { user: BOB });
    expect(c.status).toBe(200);
    const cancel = c.text.replace('BEGIN:VEVENT', 'BEGIN:VEVENT').replace('VERSION:2.0', 'VERSION:2.0\r\nMETHOD:CANCEL');
    const bob = h.t.store.directory.getAccount(BOB.address)!;
    await h.t.store.deliver(bob.id, forge('mallory@evil.example', cancel));
    const after = await dav(h, 'GET', BOB_CAL + 'forged-1@example.test.ics', { user: BOB });
    expect(after.headers.get('etag')).toBe(c.headers.get('etag'));
    expect(after.text).not.toContain('STATUS:CANCELLED');
  });

  it('server-internal markers never show up in PROPFIND and cannot be set', async () => {
    const all = await dav(h, 'PROPFIND', ALICE_CAL, { headers: { Depth: '0' }, body: '<d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>' });
    expect(all.text).not.toContain('urn:haven:internal');
    const names = await dav(h, 'PROPFIND', ALICE_CAL, { headers: { Depth: '0' }, body: '<d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>' });
    expect(names.text).not.toContain('urn:haven:internal');
    const set = await dav(h, 'PROPPATCH', ALICE_CAL, {
      body: '<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><h:imip-seen xmlns:h="urn:haven:internal">0:0</h:imip-seen></d:prop></d:set></d:propertyupdate>',
    });
    expect(set.status).toBe(207);
    expect(set.text).toContain('HTTP/1.1 403 Forbidden');
  });
});

describe('free-busy over POST to the outbox', () => {
  const fbRequest = (organizer: string, attendees: string[]) =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//Haven test//EN',
      'METHOD:REQUEST',
      'BEGIN:VFREEBUSY',
      'UID:fb-1',
      'DTSTAMP:20260101T000000Z',
      'DTSTART:20270401T000000Z',
      'DTEND:20270402T000000Z',
      `ORGANIZER:mailto:${organizer}`,
      ...attendees.map((a) => `ATTENDEE:mailto:${a}`),
      'END:VFREEBUSY',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
  const post = (body: string) => dav(h, 'POST', '/dav/principals/alice@example.test/outbox/', { body, headers: { 'Content-Type': 'text/calendar; charset=utf-8' } });

  it('answers busy time for a local attendee whose mailbox is open, and 3.7 for an unknown one', async () => {
    const ev = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', 'BEGIN:VEVENT', 'UID:bob-busy', 'DTSTAMP:20260101T000000Z', 'DTSTART:20270401T090000Z', 'DTEND:20270401T103000Z', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    expect((await put(BOB, BOB_CAL + 'busy.ics', ev)).status).toBe(201);
    const r = await post(fbRequest('alice@example.test', ['bob@example.test', 'nobody@example.test']));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/xml');
    const responses = r.text.split('<cal:response>').slice(1);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toContain('<d:href>mailto:bob@example.test</d:href>');
    expect(responses[0]).toContain('<cal:request-status>2.0;Success</cal:request-status>');
    expect(responses[0]).toContain('FREEBUSY;FBTYPE=BUSY:20270401T090000Z/20270401T103000Z');
    expect(responses[1]).toContain('<cal:request-status>3.7;Invalid calendar user</cal:request-status>');
    expect(responses[1]).not.toContain('calendar-data');
  });

  it('answers 5.1 for a local attendee whose zero-access mailbox is locked: nobody can read it', async () => {
    h.t.store.lock(h.t.store.directory.getAccount(CAROL.address)!.id);
    const r = await post(fbRequest('alice@example.test', ['carol@example.test']));
    expect(r.status).toBe(200);
    expect(r.text).toContain('<cal:request-status>5.1;Service unavailable</cal:request-status>');
    expect(r.text).not.toContain('calendar-data');
  });

  it('refuses a request whose ORGANIZER is not the caller, and invitations by POST', async () => {
    const r = await post(fbRequest('bob@example.test', ['alice@example.test']));
    expect(r.status).toBe(403);
    expect(r.text).toContain('organizer-allowed');
    const inv = await post(meeting().replace('VERSION:2.0', 'VERSION:2.0\r\nMETHOD:REQUEST'));
    expect(inv.status).toBe(403);
    expect(inv.text).toContain('valid-calendar-data');
  });
});
