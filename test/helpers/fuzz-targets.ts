/**
 * @module test/helpers/fuzz-targets
 * The protocol parsers as fuzz targets (test/helpers/fuzz.ts): IMAP
 * requests (receiver and parser), POP3 lines, SMTP envelope addresses and
 * parameters with the header operations SMTP does on raw bytes, DAV XML
 * bodies, iCalendar and vCard objects, and MIME messages. Each accepts only
 * its parser's typed error as a refusal; anything else thrown is a bug.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { DavError } from '../../node/dav/errors.js';
import { parseVCalendar } from '../../node/dav/ical.js';
import { parseVCard } from '../../node/dav/vcard.js';
import { parseXml, XmlError } from '../../node/dav/xml.js';
import { ImapError } from '../../node/imap/errors.js';
import { parseCommand as parseImap } from '../../node/imap/parse.js';
import { Receiver as ImapReceiver } from '../../node/imap/receiver.js';
import { decodeMailbox } from '../../node/imap/utf7.js';
import { parseMessageUnguarded } from '../../node/mime/parse.js';
import { Pop3Error } from '../../node/pop3/errors.js';
import { parseCommand as parsePop3 } from '../../node/pop3/parse.js';
import { Receiver as Pop3Receiver } from '../../node/pop3/receiver.js';
import { LineEndingCheck, MAIL_PARAMS, parseEnvelopeAddress, unknownParam } from '../../node/smtp/address.js';
import { SmtpError } from '../../node/smtp/errors.js';
import { headerValues, startsWithWhitespace, withoutFields } from '../../node/smtp/headers.js';
import type { FuzzTarget } from './fuzz.js';

const PUNCT = [' ', '(', ')', '[', ']', '{', '}', '<', '>', '"', '\\', '*', '%', ':', ';', ',', '.', '+', '-', '~', '=', '@', '&', '/', '\r\n', '\n', '\r', '\0', '\xff', '\t'];
const DIGITS = ['0', '1', '9', '4294967295', '18446744073709551616', '-1'];

function refusedBy(errors: (new (...a: never[]) => Error)[], fn: () => void): 'ok' | 'rejected' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (errors.some((E) => err instanceof E)) return 'rejected';
    throw err;
  }
}

export const imapTarget: FuzzTarget = {
  name: 'imap',
  seeds: [
    'a FETCH 1:*,3 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From)]<0.10> BINARY[1] MODSEQ) (CHANGEDSINCE 5 VANISHED)',
    'b SEARCH RETURN (MIN SAVE) CHARSET UTF-8 OR (FROM "x" SINCE 1-Jan-2020) NOT UID $ HEADER X-A "b" MODSEQ 3',
    'c SELECT INBOX (QRESYNC (1 2 1:3 (1,2 3,4)))',
    'd APPEND "a b" (\\Seen) "01-Jan-2020 00:00:00 +0000" {3+}\r\nabc',
    'e LIST (SUBSCRIBED) "" ("*" %) RETURN (STATUS (MESSAGES SIZE) CHILDREN)',
    'f STORE 1:2 (UNCHANGEDSINCE 4) -FLAGS.SILENT (\\Deleted $x)',
    'g LOGIN {5+}\r\nalice "pass word"',
    'h AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==',
    'i CREATE "&ZeVnLIqe-/&AOk-t&AOk-"',
    'j UID COPY 1:5 "Archive"',
  ],
  alphabet: [...PUNCT, ...DIGITS, 'NIL', 'BODY[', 'UID', '{3}\r\n', '{0+}\r\n', '~{2}\r\n', 'A', 'z'],
  run(input) {
    const rec = new ImapReceiver({ maxLine: 4096, maxLiteral: 4096, maxRequest: 8192 });
    rec.push(Buffer.from(input + '\r\n', 'latin1'));
    // Literals may be announced and never arrive: feed enough to finish them.
    rec.push(Buffer.alloc(64, 0x61));
    rec.push(Buffer.from('\r\n'));
    let outcome: 'ok' | 'rejected' = 'rejected';
    for (let ev = rec.next(), n = 0; ev && n < 100; ev = rec.next(), n++) {
      if (ev.type !== 'request') continue;
      const parts = ev.parts;
      const one = refusedBy([ImapError], () => {
        const cmd = parseImap(parts) as unknown as Record<string, unknown>;
        // Names go through modified UTF-7 decoding next (session.decodeNames).
        for (const k of ['mailbox', 'from', 'to', 'ref']) if (typeof cmd[k] === 'string') decodeMailbox(cmd[k] as string);
      });
      if (one === 'ok') outcome = 'ok';
    }
    return outcome;
  },
};

export const pop3Target: FuzzTarget = {
  name: 'pop3',
  seeds: ['USER alice@example.org', 'PASS secret words', 'RETR 1', 'TOP 1 10', 'LIST', 'UIDL 3', 'DELE 2', 'AUTH PLAIN AGFsaWNlAHNlY3JldA==', 'CAPA', 'STLS', 'QUIT', 'NOOP', 'RSET'],
  alphabet: [...PUNCT, ...DIGITS, 'USER ', 'TOP ', 'x'.repeat(300)],
  run(input) {
    const rec = new Pop3Receiver(255);
    let outcome: 'ok' | 'rejected' = 'rejected';
    for (const item of rec.push(Buffer.from(input + '\r\n', 'latin1'))) {
      if (item.kind !== 'line') continue;
      if (refusedBy([Pop3Error], () => void parsePop3(item.text)) === 'ok') outcome = 'ok';
    }
    return outcome;
  },
};

export const smtpTarget: FuzzTarget = {
  name: 'smtp',
  seeds: [
    'alice@example.org',
    '"quoted local"@example.org',
    'user+tag@sub.example.org',
    'Пользователь@пример.рф',
    '@route,@other:user@example.org',
    'user@[192.0.2.1]',
    'From: Alice <alice@example.org>\r\nSender: bob@example.org\r\nSubject: hi\r\n\r\nbody\r\n',
    ' X-Folded: yes\r\nFrom: a@b\r\n\r\n',
  ],
  alphabet: [...PUNCT, ...DIGITS, '@', 'SIZE=', 'BODY=8BITMIME', 'xn--', '..', '\r\n\r\n', ' \t'],
  run(input) {
    for (const utf8 of [false, true]) {
      const a = parseEnvelopeAddress(input, { utf8 });
      if (!(a instanceof SmtpError) && typeof a.address !== 'string') throw new Error('address without an address');
    }
    const args = Object.fromEntries(input.split(' ').filter(Boolean).map((kv) => kv.split('=', 2)));
    unknownParam(args, MAIL_PARAMS);
    const raw = Buffer.from(input, 'latin1');
    headerValues(raw, 'from');
    withoutFields(raw, (name) => name === 'x-haven-spam');
    startsWithWhitespace(raw);
    // The CRLF check agrees with its definition (every LF after a CR, every CR before an LF), however the bytes are split.
    const check = new LineEndingCheck();
    const cut = Math.floor(raw.length / 2);
    check.push(raw.subarray(0, cut));
    check.push(raw.subarray(cut));
    const good = check.end();
    const want = !/\r(?!\n)|(?<!\r)\n/.test(input);
    if (good !== want) throw new Error(`LineEndingCheck said ${good} for a message whose line endings are ${want ? 'all CRLF' : 'not'}`);
    return parseEnvelopeAddress(input) instanceof SmtpError ? 'rejected' : 'ok';
  },
};

export const davXmlTarget: FuzzTarget = {
  name: 'dav-xml',
  seeds: [
    '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:resourcetype/></d:prop></d:propfind>',
    '<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:d="DAV:"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20260101T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>',
    '<d:sync-collection xmlns:d="DAV:"><d:sync-token>http://x/1</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>',
    '<x:a xmlns:x="urn:x"><![CDATA[<not>]]>&amp;&lt;&#65;&#x42;<!-- c --></x:a>',
  ],
  alphabet: [...PUNCT, '<', '</', '/>', '<!DOCTYPE x [<!ENTITY a "b">]>', '&a;', '&#0;', '&#xD800;', 'xmlns:=""', '<![CDATA[', ']]>', '<?x?>'],
  run: (input) => refusedBy([XmlError, DavError], () => void parseXml(input)),
};

export const icalendarTarget: FuzzTarget = {
  name: 'icalendar',
  seeds: [
    'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\nUID:1@x\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\nSUMMARY:Stand-up\\, daily\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n',
    'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VTODO\r\nUID:t\r\nDUE;VALUE=DATE:20260301\r\nEND:VTODO\r\nEND:VCALENDAR\r\n',
  ],
  alphabet: [...PUNCT, ...DIGITS, 'BEGIN:', 'END:', 'VEVENT', ';VALUE=DATE', ';TZID=', 'T000000Z', '\r\n ', 'RRULE:FREQ=', 'P1D'],
  // Parsing only: ical.js decodes values lazily, and what a stored object must satisfy (dates that decode, one UID,
  // bounded recurrence) is parseCalendarObject's check, which expands recurrences and belongs with the recurrence limits.
  run: (input) => refusedBy([DavError], () => void parseVCalendar(input)),
};

export const vcardTarget: FuzzTarget = {
  name: 'vcard',
  seeds: [
    'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nFN:Alice Example\r\nN:Example;Alice;;;\r\nEMAIL;TYPE=work:alice@example.org\r\nTEL;VALUE=uri:tel:+1-555-0100\r\nEND:VCARD\r\n',
    'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nADR;TYPE=home:;;1 Main St;Town;;12345;Land\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\nEND:VCARD\r\n',
  ],
  alphabet: [...PUNCT, ...DIGITS, 'BEGIN:', 'END:', 'VCARD', 'VERSION:', ';TYPE=', '\r\n ', 'item1.'],
  run: (input) => refusedBy([DavError], () => void parseVCard(input)),
};

const mimeDir = new URL('../fixtures/mime/', import.meta.url);
export const mimeTarget: FuzzTarget = {
  name: 'mime',
  seeds: readdirSync(mimeDir)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .slice(0, 12)
    .map((f) => readFileSync(new URL(f, mimeDir), 'latin1')),
  alphabet: [...PUNCT, '--b1\r\n', 'Content-Type: multipart/mixed; boundary=b1\r\n', '=?utf-8?B?', '?=', 'Content-Transfer-Encoding: base64\r\n', '\r\n\r\n'],
  // The unguarded parser: parseMessage itself would swallow an exception. It refuses nothing: every byte string is a message.
  run(input) {
    parseMessageUnguarded(Buffer.from(input, 'latin1'));
    return 'ok';
  },
};

export const FUZZ_TARGETS: readonly FuzzTarget[] = [imapTarget, pop3Target, smtpTarget, davXmlTarget, icalendarTarget, vcardTarget, mimeTarget];
