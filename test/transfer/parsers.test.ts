/**
 * The pure parsers of haven import/export, alone: modified UTF-7 (RFC 3501
 * §5.1.3), mbox splitting and quoting (RFC 4155 and the mboxo/mboxrd
 * variants), Maildir names (cr.yp.to/proto/maildir.html, Maildir++,
 * dovecot-keywords), iCalendar/vCard splitting (RFC 5545 §3.1, §3.4;
 * RFC 6350 §3.3) and IMAP folder planning (RFC 6154 special use).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { joinCalendar, resourceName, splitCalendar, splitVcards } from '../../node/transfer/ical-split.js';
import { planFolders } from '../../node/transfer/imap-folders.js';
import { dirForFolder, flagsFromName, folderFromDir, formatKeywordsFile, nameInfo, parseKeywordsFile } from '../../node/transfer/maildir.js';
import { MboxSplitter, mboxrdBound, mboxrdEntry, parseFromLineDate, toCrlf, toLf, type MboxMessage } from '../../node/transfer/mbox.js';
import { readMboxStatus, withMboxStatus } from '../../node/transfer/mbox-status.js';
import { formatProgress, Progress } from '../../node/transfer/progress.js';
import { decodeUtf7, encodeUtf7 } from '../../node/transfer/utf7.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'transfer');

describe('modified UTF-7 (RFC 3501 §5.1.3)', () => {
  it('decodes the RFC example and encodes it back', () => {
    // "~peter/mail/&U,BTFw-/&ZeVnLIqe-" is "~peter/mail/台北/日本語" in the RFC's example.
    expect(decodeUtf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-')).toBe('~peter/mail/台北/日本語');
    expect(encodeUtf7('~peter/mail/台北/日本語')).toBe('~peter/mail/&U,BTFw-/&ZeVnLIqe-');
  });
  it('"&" is written "&-", and a name with an unterminated shift is left as UTF-8', () => {
    expect(encodeUtf7('R&D')).toBe('R&-D');
    expect(decodeUtf7('R&-D')).toBe('R&D');
    expect(decodeUtf7('Été & Co')).toBe('Été & Co');
  });
  it('encodes characters outside BMP as surrogate pairs and back', () => {
    expect(decodeUtf7(encodeUtf7('mail 📬'))).toBe('mail 📬');
  });
});

function splitAll(data: Buffer, chunk: number, variant: 'mboxrd' | 'mboxo' = 'mboxrd'): MboxMessage[] {
  const s = new MboxSplitter(variant);
  const out: MboxMessage[] = [];
  for (let i = 0; i < data.length; i += chunk) out.push(...s.push(data.subarray(i, i + chunk)));
  out.push(...s.end());
  return out;
}

describe('mbox (RFC 4155; mboxrd and mboxo quoting)', () => {
  const rd = readFileSync(join(fixtures, 'odd.mboxrd'));
  it('splits on From_ lines after a blank line, at every chunk size, with the same result', () => {
    const whole = splitAll(rd, rd.length);
    expect(whole).toHaveLength(3);
    for (const n of [1, 2, 3, 7, 64]) expect(splitAll(rd, n).map((m) => m.raw.toString('hex'))).toEqual(whole.map((m) => m.raw.toString('hex')));
  });
  it('mboxrd: removes exactly one ">" from >*From lines; "Fromage" is not a From_ line', () => {
    const [a, b] = splitAll(rd, 4096);
    const text = a.raw.toString();
    expect(text).toContain('\r\nFrom the desk of Alice');
    expect(text).toContain('\r\n>From two levels');
    expect(b.raw.toString()).toContain('Fromage is not a From_ line');
  });
  it('the blank line before the next From_ is the separator; blank lines of the message stay', () => {
    const [a, b, c] = splitAll(rd, 4096);
    expect(a.raw.toString().endsWith('last line\r\n')).toBe(true);
    expect(b.raw.toString().endsWith('From_ line: no space after From.\r\n\r\n')).toBe(true);
    // The file ends without a newline: the last line still gets its CRLF.
    expect(c.raw.toString().endsWith('ends here\r\n')).toBe(true);
  });
  it('lines become CRLF (RFC 5322 §2.3) and the From_ date is the INTERNALDATE', () => {
    const [a, b, c] = splitAll(rd, 4096);
    expect(a.raw.includes('\r\n')).toBe(true);
    expect(/[^\r]\n/.test(a.raw.toString())).toBe(false);
    expect(a.date).toBe(Date.UTC(2023, 0, 2, 3, 4, 5));
    expect(b.date).toBe(Date.UTC(2023, 1, 28, 23, 59, 59));
    expect(c.date).toBe(Date.UTC(2023, 2, 1));
    expect(parseFromLineDate('From x Mon Jan  2 03:04 2023')).toBe(Date.UTC(2023, 0, 2, 3, 4));
    expect(parseFromLineDate('From x not a date')).toBeNull();
  });
  it('mboxo: only a single ">" is removed; ">>From" stays (the variant is lossy by design)', () => {
    const [a] = splitAll(readFileSync(join(fixtures, 'odd.mboxo')), 5, 'mboxo');
    expect(a.raw.toString()).toContain('\r\nFrom was escaped once\r\n>>From stays');
  });
  it('a file that does not start with a From_ line is refused with a clear error', () => {
    expect(() => splitAll(Buffer.from('Subject: x\n\nbody\n'), 100)).toThrow(/not an mbox/);
  });
  it('mboxrd writing quotes >*From lines once more and splits back to the same bytes', () => {
    const msgs = [
      Buffer.from('Subject: a\r\n\r\nFrom start\r\n>From one\r\n>>From two\r\n'),
      Buffer.from('Subject: b\r\n\r\nno newline at end'),
      Buffer.from('Subject: c\r\n\r\ntrailing blanks\r\n\r\n\r\n'),
    ];
    const file = Buffer.concat(msgs.map((m, i) => mboxrdEntry(m, 'a@b', Date.UTC(2024, 4, i + 1))));
    const back = splitAll(file, 3);
    expect(back.map((m) => m.raw.toString())).toEqual(['Subject: a\r\n\r\nFrom start\r\n>From one\r\n>>From two\r\n', 'Subject: b\r\n\r\nno newline at end\r\n', 'Subject: c\r\n\r\ntrailing blanks\r\n\r\n\r\n']);
    expect(back.map((m) => m.date)).toEqual([1, 2, 3].map((d) => Date.UTC(2024, 4, d)));
  });
  it('Status/X-Status/X-Keywords become flags and leave the message (as Dovecot does), and back', () => {
    const raw = Buffer.from('Subject: s\r\nX-Keywords: Work\r\nStatus: RO\r\nX-Status: AFD\r\n\r\nbody\r\n');
    const r = readMboxStatus(raw);
    expect(r.flags.sort()).toEqual(['Work', '\\Answered', '\\Deleted', '\\Flagged', '\\Seen'].sort());
    expect(r.raw.toString()).toBe('Subject: s\r\n\r\nbody\r\n');
    const again = readMboxStatus(withMboxStatus(r.raw, r.flags));
    expect(again.raw.toString()).toBe(r.raw.toString());
    expect(again.flags.sort()).toEqual(r.flags.sort());
  });
  it('toCrlf and toLf are inverses on CRLF text', () => {
    const crlf = Buffer.from('a\r\nb\r\n\r\nc');
    expect(toCrlf(toLf(crlf)).equals(crlf)).toBe(true);
    expect(toCrlf(Buffer.from('a\nb\r\n')).toString()).toBe('a\r\nb\r\n');
  });
  it('mboxrdBound is never below what mboxrdEntry writes (the ZIP declares it before the data)', () => {
    const worst = [
      Buffer.from(''),
      Buffer.from('no header end'),
      Buffer.from('\n'.repeat(50)),
      Buffer.from('Subject: s\r\n\r\n' + 'From \n'.repeat(100)),
      Buffer.from('Subject: s\r\n\r\n' + '>>>From x\r\n'.repeat(100) + 'tail without newline'),
    ];
    const flagSets = [[], ['\\Seen', '\\Answered', '\\Flagged', '\\Draft', '\\Deleted', 'Work', '$Label1', 'Été']];
    for (const raw of worst) {
      for (const flags of flagSets) expect(mboxrdEntry(withMboxStatus(raw, flags), 'MAILER-DAEMON', Date.UTC(99999, 0, 1)).length).toBeLessThanOrEqual(mboxrdBound(raw.length, flags));
    }
  });
});

describe('Maildir names (maildir.html, Maildir++, dovecot-keywords)', () => {
  it('reads the standard flag letters and Dovecot keyword letters', () => {
    expect(flagsFromName('1.M1P1.h,S=100:2,FRS').sort()).toEqual(['\\Answered', '\\Flagged', '\\Seen']);
    expect(flagsFromName('1.M1P1.h:2,DPT').sort()).toEqual(['$Forwarded', '\\Deleted', '\\Draft']);
    expect(flagsFromName('1.M1P1.h:2,Sab', ['$Junk-not', 'Work'])).toEqual(['\\Seen', '$Junk-not', 'Work']);
    expect(flagsFromName('1.M1P1.h!2,S')).toEqual(['\\Seen']);
    expect(flagsFromName('1.M1P1.h')).toEqual([]);
  });
  it('writes letters in ASCII order and numbers new keywords', () => {
    const kw: string[] = [];
    expect(nameInfo(['\\Seen', '\\Flagged', '\\Answered', 'Work', '$Forwarded'], kw)).toBe(':2,FPRSa');
    expect(kw).toEqual(['Work']);
    expect(parseKeywordsFile(formatKeywordsFile(['a', 'b']))).toEqual(['a', 'b']);
  });
  it('maps Maildir++ directories to folders and back, with UTF-7 and a dot inside a name', () => {
    expect(folderFromDir('.Lists.Haven')).toBe('Lists/Haven');
    expect(folderFromDir('.&AMk-t&AOk-')).toBe('Été');
    expect(folderFromDir('cur')).toBeNull();
    expect(folderFromDir('..')).toBeNull();
    expect(dirForFolder('INBOX')).toBe('');
    expect(dirForFolder('Lists/Haven')).toBe('.Lists.Haven');
    expect(folderFromDir(dirForFolder('v1.2 notes/Été'))).toBe('v1.2 notes/Été');
  });
});

describe('iCalendar and vCard files (RFC 5545 §3.1, §3.4; RFC 6350)', () => {
  const ics = [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//x//y//EN', 'X-WR-CALNAME:Work', 'X-APPLE-CALENDAR-COLOR:#FF0000',
    'BEGIN:VTIMEZONE', 'TZID:Europe/Paris', 'BEGIN:STANDARD', 'DTSTART:19701025T030000', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'END:STANDARD', 'END:VTIMEZONE',
    'BEGIN:VEVENT', 'UID:r1', 'DTSTART;TZID=Europe/Paris:20240101T100000', 'RRULE:FREQ=DAILY', 'SUMMARY:a long', ' folded summary', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:r1', 'RECURRENCE-ID;TZID=Europe/Paris:20240102T100000', 'DTSTART;TZID=Europe/Paris:20240102T110000', 'END:VEVENT',
    'BEGIN:VTODO', 'UID:t1', 'SUMMARY:todo', 'END:VTODO',
    'END:VCALENDAR', '',
  ].join('\r\n');
  it('one object per UID (overrides stay with their master), each with the zones; name and colour read', () => {
    const c = splitCalendar(ics);
    expect(c.displayName).toBe('Work');
    expect(c.color).toBe('#FF0000');
    expect(c.objects.map((o) => [o.uid, o.component])).toEqual([['r1', 'VEVENT'], ['t1', 'VTODO']]);
    expect(c.objects[0].data.match(/BEGIN:VEVENT/g)).toHaveLength(2);
    expect(c.objects[0].data).toContain('BEGIN:VTIMEZONE');
    expect(c.objects[0].data).toContain('SUMMARY:a long\r\n folded summary');
    expect(c.objects[0].data).not.toContain('X-WR-CALNAME');
  });
  it('joining the objects and splitting again gives the same components, name and colour', () => {
    const c = splitCalendar(ics);
    const again = splitCalendar(joinCalendar(c.objects.map((o) => o.data), c));
    expect(again.displayName).toBe('Work');
    expect(again.color).toBe('#FF0000');
    const comps = (d: string) => d.slice(d.indexOf('BEGIN:VEVENT') >= 0 ? d.indexOf('BEGIN:VEVENT') : d.indexOf('BEGIN:VTODO'));
    expect(again.objects.map((o) => comps(o.data))).toEqual(c.objects.map((o) => comps(o.data)));
  });
  it('vCards split one per card; a card without UID gets a stable one', () => {
    const cards = splitVcards('BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nEND:VCARD\r\n');
    expect(cards.map((c) => c.uid)[0]).toBe('u1');
    expect(cards[1].uid).toBe(splitVcards(cards[1].data)[0].uid);
    expect(() => splitVcards('hello')).toThrow(/not a vCard/);
    expect(() => splitCalendar('hello')).toThrow(/not an iCalendar/);
  });
  it('resource names are URL-safe and stable', () => {
    expect(resourceName('abc@x', 'ics')).toBe('abc@x.ics');
    expect(resourceName('a/b c', 'vcf')).toMatch(/^[0-9a-f]{40}\.vcf$/);
  });
});

describe('IMAP folder plan (RFC 6154; Gmail labels)', () => {
  it('skips \\Noselect and views, puts INBOX first and \\All last into Archive taking only unlabelled mail', () => {
    const plan = planFolders([
      { path: '[Gmail]', delimiter: '/', flags: ['\\Noselect', '\\HasChildren'], specialUse: null },
      { path: '[Gmail]/All Mail', delimiter: '/', flags: ['\\All'], specialUse: '\\All' },
      { path: '[Gmail]/Starred', delimiter: '/', flags: ['\\Flagged'], specialUse: '\\Flagged' },
      { path: '[Gmail]/Important', delimiter: '/', flags: ['\\Important'], specialUse: '\\Important' },
      { path: '[Gmail]/Sent Mail', delimiter: '/', flags: ['\\Sent'], specialUse: '\\Sent' },
      { path: 'Receipts', delimiter: '/', flags: [], specialUse: null },
      { path: 'INBOX', delimiter: '/', flags: [], specialUse: null },
    ]);
    expect(plan.map((p) => [p.path, p.name, p.policy])).toEqual([
      ['INBOX', 'INBOX', 'append'],
      ['[Gmail]/Sent Mail', '[Gmail]/Sent Mail', 'append'],
      ['Receipts', 'Receipts', 'append'],
      ['[Gmail]/All Mail', 'Archive', 'skip-if-anywhere'],
    ]);
  });
  it('a "." delimiter becomes "/" and a "/" inside a level cannot split it', () => {
    expect(planFolders([{ path: 'INBOX.a/b.c', delimiter: '.', flags: [], specialUse: null }])[0].name).toBe('INBOX/a_b/c');
  });
});

describe('progress', () => {
  it('rate, ETA and a readable line', () => {
    let t = 0;
    const p = new Progress(() => t);
    p.total(100, 1_048_576 * 10);
    p.snapshot();
    t = 2000;
    p.add({ messages: 40, skipped: 10, bytes: 1_048_576 * 5 });
    const s = p.snapshot();
    expect(s.rate).toBe(25);
    expect(s.etaSeconds).toBe(2);
    expect(formatProgress(s)).toBe('50/100 messages (10 already there), 5.0/10.0 MB, 25 msg/s, 2.5 MB/s, 2 s left');
  });
  it('with only a size announced (an mbox), the time left comes from bytes and no message total is shown', () => {
    let t = 0;
    const p = new Progress(() => t);
    p.total(null, 1_048_576 * 10);
    p.snapshot();
    t = 4000;
    p.add({ messages: 8, skipped: 0, bytes: 1_048_576 * 4 });
    const s = p.snapshot();
    expect(s.totalMessages).toBeNull();
    expect(s.etaSeconds).toBe(6);
    expect(formatProgress(s)).toBe('8 messages, 4.0/10.0 MB, 2 msg/s, 1.0 MB/s, 6 s left');
  });
});
