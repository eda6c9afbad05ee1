/**
 * iTIP decisions without a server: which messages a change sends (RFC 6638
 * §3.2), and how received messages change a stored copy (RFC 5546), for
 * recurring series, single instances, stale sequences and client-scheduled
 * attendees.
 */
import { describe, expect, it } from 'vitest';
import { applyIncoming, outgoing, parseItip } from '../../node/dav/scheduling/itip.js';

const ORG = 'org@example.test';
const ANN = 'ann@example.test';

function series(opts: { seq?: number; annAgent?: string; annPartstat?: string; overrides?: string[][]; method?: string } = {}): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//t//EN',
    ...(opts.method ? [`METHOD:${opts.method}`] : []),
    'BEGIN:VEVENT',
    'UID:weekly@example.test',
    'DTSTAMP:20260101T000000Z',
    'DTSTART:20270104T090000Z',
    'DTEND:20270104T093000Z',
    'RRULE:FREQ=WEEKLY;COUNT=10',
    `SEQUENCE:${opts.seq ?? 0}`,
    `ORGANIZER:mailto:${ORG}`,
    `ATTENDEE;PARTSTAT=${opts.annPartstat ?? 'NEEDS-ACTION'}${opts.annAgent ? `;SCHEDULE-AGENT=${opts.annAgent}` : ''}:mailto:${ANN}`,
    'END:VEVENT',
    ...(opts.overrides ?? []).flat(),
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

const instance = (recurrenceId: string, extra: string[] = []) => [
  'BEGIN:VEVENT',
  'UID:weekly@example.test',
  'DTSTAMP:20260101T000000Z',
  `RECURRENCE-ID:${recurrenceId}`,
  `DTSTART:${recurrenceId}`,
  'DTEND:20270111T093000Z',
  'SEQUENCE:0',
  `ORGANIZER:mailto:${ORG}`,
  `ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:${ANN}`,
  ...extra,
  'END:VEVENT',
];

describe('outgoing', () => {
  it('sends nothing for an attendee the client schedules itself (SCHEDULE-AGENT=CLIENT)', () => {
    expect(outgoing(ORG, null, series({ annAgent: 'CLIENT' }))).toEqual([]);
    expect(outgoing(ORG, null, series()).map((m) => [m.method, m.to])).toEqual([['REQUEST', [ANN]]]);
  });

  it('strips SCHEDULE-* parameters from what goes out', () => {
    const [m] = outgoing(ORG, null, series({ annAgent: 'SERVER' }));
    expect(m.ics).not.toContain('SCHEDULE-AGENT');
  });

  it('an attendee who only edits their own copy without answering sends nothing', () => {
    const before = series();
    const after = before.replace('DTEND:20270104T093000Z', 'DTEND:20270104T093000Z\r\nX-MY-NOTE:bring slides');
    expect(outgoing(ANN, before, after)).toEqual([]);
  });

  it('an attendee deleting a declined event does not decline again', () => {
    expect(outgoing(ANN, series({ annPartstat: 'DECLINED' }), null)).toEqual([]);
    expect(outgoing(ANN, series({ annPartstat: 'ACCEPTED' }), null).map((m) => m.method)).toEqual(['REPLY']);
  });
});

describe('applyIncoming', () => {
  it('a CANCEL for one instance adds a cancelled override and keeps the series', () => {
    const cancel = parseItip(series({ method: 'CANCEL' }).replace(/BEGIN:VEVENT[\s\S]*END:VEVENT\r\n/, instance('20270111T090000Z').join('\r\n') + '\r\n'));
    const out = applyIncoming(series(), cancel, ORG, ANN)!;
    expect(out).toContain('RRULE:FREQ=WEEKLY;COUNT=10');
    expect(out).toMatch(/RECURRENCE-ID:20270111T090000Z[\s\S]*STATUS:CANCELLED/);
    expect(out.match(/BEGIN:VEVENT/g)).toHaveLength(2);
  });

  it('ignores a REQUEST older than the stored sequence', () => {
    const stale = parseItip(series({ seq: 1, method: 'REQUEST' }));
    expect(applyIncoming(series({ seq: 3 }), stale, ORG, ANN)).toBeNull();
  });

  it('a REPLY for one instance updates that override only', () => {
    const stored = series({ overrides: [instance('20270111T090000Z')] });
    const reply = parseItip(
      ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', 'METHOD:REPLY', 'BEGIN:VEVENT', 'UID:weekly@example.test', 'DTSTAMP:20260101T000000Z', 'RECURRENCE-ID:20270111T090000Z', `ORGANIZER:mailto:${ORG}`, `ATTENDEE;PARTSTAT=DECLINED:mailto:${ANN}`, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n'),
    );
    const out = applyIncoming(stored, reply, ANN, ORG)!.replace(/\r\n /g, '');
    const [master, override] = out.split('RECURRENCE-ID');
    expect(master).toContain(`ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:${ANN}`);
    expect(override).toContain(`PARTSTAT=DECLINED;SCHEDULE-STATUS=2.0:mailto:${ANN}`);
  });

  it('refuses a REQUEST whose organizer differs from the stored one', () => {
    const hijack = parseItip(series({ seq: 5, method: 'REQUEST' }).replaceAll(`ORGANIZER:mailto:${ORG}`, 'ORGANIZER:mailto:evil@example.net'));
    expect(() => applyIncoming(series(), hijack, 'evil@example.net', ANN)).toThrow(/organized by/);
  });

  it('refuses messages with no method it handles, or two UIDs', () => {
    expect(() => parseItip(series({ method: 'PUBLISH' }))).toThrow(/PUBLISH/);
    expect(() => parseItip(series({ method: 'REQUEST', overrides: [instance('20270111T090000Z').map((l) => l.replace('UID:weekly@', 'UID:other@'))] }))).toThrow(/UID/);
  });
});
