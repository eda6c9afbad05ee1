/**
 * @module node/mime/envelope
 * What IMAP and threading need from a message header: the ENVELOPE
 * (RFC 9051 §7.5.2), the Date as a timestamp, message ids for threading
 * (RFC 5256 §2.2) and the base subject (RFC 5256 §2.1).
 */
import { parseAddressList } from './address.js';
import { fieldValue, type RawField } from './header.js';
import type { Address, Envelope } from './types.js';

function value(buf: Buffer, fields: Map<string, RawField>, name: string): string | null {
  const f = fields.get(name);
  return f ? fieldValue(buf, f) : null;
}

/**
 * Address headers longer than this are cut before parsing: room for about
 * a thousand recipients, and a bound on what a hostile header can cost in
 * parse time and stored JSON.
 */
const ADDRESS_HEADER_CAP = 64 * 1024;

function addresses(buf: Buffer, fields: Map<string, RawField>, name: string): Address[] {
  const v = value(buf, fields, name);
  if (!v) return [];
  return parseAddressList(v.length > ADDRESS_HEADER_CAP ? v.slice(0, ADDRESS_HEADER_CAP) : v);
}

/** Builds the envelope from an entity's first-occurrence header fields. */
export function buildEnvelope(buf: Buffer, fields: Map<string, RawField>): Envelope {
  const from = addresses(buf, fields, 'from');
  const sender = addresses(buf, fields, 'sender');
  const replyTo = addresses(buf, fields, 'reply-to');
  return {
    date: value(buf, fields, 'date'),
    subject: value(buf, fields, 'subject'),
    from,
    // RFC 9051 §7.5.2: absent or empty Sender / Reply-To default to From.
    sender: sender.length > 0 ? sender : from,
    replyTo: replyTo.length > 0 ? replyTo : from,
    to: addresses(buf, fields, 'to'),
    cc: addresses(buf, fields, 'cc'),
    bcc: addresses(buf, fields, 'bcc'),
    inReplyTo: value(buf, fields, 'in-reply-to'),
    messageId: value(buf, fields, 'message-id'),
  };
}

export const emptyEnvelope = (): Envelope => ({
  date: null,
  subject: null,
  from: [],
  sender: [],
  replyTo: [],
  to: [],
  cc: [],
  bcc: [],
  inReplyTo: null,
  messageId: null,
});

/** Bounds References on hostile input; real threads stay far below this. */
const MAX_IDS = 500;

/**
 * Message ids in a header value, without angle brackets. Ids are taken from
 * `<...>`; a value with no brackets at all (a broken mailer) yields its
 * whitespace-separated words that contain an `@`.
 */
export function messageIds(v: string | null): string[] {
  if (!v) return [];
  const out: string[] = [];
  let i = v.indexOf('<');
  while (i !== -1 && out.length < MAX_IDS) {
    const j = v.indexOf('>', i + 1);
    if (j === -1) break;
    const id = v.slice(i + 1, j).replace(/\s+/g, '');
    if (id !== '') out.push(id);
    i = v.indexOf('<', j + 1);
  }
  if (out.length === 0 && v.indexOf('<') === -1) {
    for (const w of v.split(/\s+/)) if (w.includes('@') && out.length < MAX_IDS) out.push(w);
  }
  return out;
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

// RFC 5322 §4.3 obsolete zones; military letters count as -0000 (unknown).
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};

const DATE_RE =
  /^\s*(?:[a-z]+\s*,?\s*)?(\d{1,2})\s*[-\s]\s*([a-z]{3})[a-z]*\.?\s*[-\s]\s*(\d{2,4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?\s*([+-]\d{2}:?\d{2}|[a-z]{1,5})?/i;

/** A Date header read: the instant, and the calendar day as written, in the header's own zone. */
export interface SentDate {
  /** Epoch ms of the instant. */
  at: number;
  /** Midnight UTC of the date part as written (day, month, year before any zone adjustment). */
  day: number;
}

/**
 * RFC 5322 date-time (with obsolete forms), or null. The day is the one the
 * header names: RFC 9051 §6.4.4 compares SENTON/SENTBEFORE/SENTSINCE on it,
 * "disregarding time and timezone", so 23:30 +0200 on 24 March is 24 March
 * though it is 21:30 UTC.
 */
export function parseSentDate(v: string | null): SentDate | null {
  if (!v) return null;
  const s = v.length > 200 ? v.slice(0, 200) : v;
  const m = DATE_RE.exec(s.replace(/\([^)]*\)/g, ' '));
  if (m) {
    const day = Number(m[1]);
    const month = MONTHS[m[2].toLowerCase()];
    let year = Number(m[3]);
    if (m[3].length <= 2) year += year < 50 ? 2000 : 1900;
    else if (m[3].length === 3) year += 1900;
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = m[6] === undefined ? 0 : Number(m[6]);
    let offset = 0;
    const z = m[7];
    if (z) {
      if (z[0] === '+' || z[0] === '-') {
        const digits = z.replace(':', '');
        const mins = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
        offset = z[0] === '-' ? -mins : mins;
      } else {
        offset = ZONES[z.toLowerCase()] ?? 0;
      }
    }
    if (month !== undefined && day >= 1 && day <= 31 && hour <= 24 && minute <= 59 && second <= 60) {
      const t = Date.UTC(year, month, day, hour, minute, second) - offset * 60_000;
      if (Number.isFinite(t)) return { at: t, day: Date.UTC(year, month, day) };
    }
  }
  // Not RFC 5322 (ISO 8601 and the like): the zone is lost to Date.parse, so the day is UTC's.
  const t = Date.parse(s);
  return Number.isFinite(t) ? { at: t, day: Math.floor(t / 86_400_000) * 86_400_000 } : null;
}

/** RFC 5322 date-time (with obsolete forms) to epoch ms, or null. */
export function parseDate(v: string | null): number | null {
  return parseSentDate(v)?.at ?? null;
}

/** A base subject and whether extracting it took off a reply or forward marker. */
export interface SubjectInfo {
  base: string;
  /**
   * RFC 5256 §4 step 6: the subject "contains a subj-refwd part and/or a
   * (fwd) subj-trailer" (or was wrapped in [fwd: ...]): the message is a
   * reply or a forward.
   */
  refwd: boolean;
}

/**
 * RFC 5256 §2.1 base subject. Input is the decoded subject (step 1's
 * encoded-word conversion is the caller's). Steps: whitespace runs to one
 * space (1), drop trailing "(fwd)" and WSP (2), drop leading subj-leaders
 * (3) and a subj-blob that leaves something behind (4), repeated (5),
 * unwrap "[fwd: ...]" and go again from (2) (6).
 */
export function subjectInfo(decoded: string): SubjectInfo {
  let s = decoded.replace(/[\t\r\n ]+/g, ' ');
  let refwd = false;
  for (;;) {
    // (2) subj-trailer = "(fwd)" / WSP
    for (;;) {
      const t = s.replace(/ +$/, '');
      if (t.length >= 5 && t.slice(-5).toLowerCase() === '(fwd)') {
        s = t.slice(0, -5);
        refwd = true;
      } else {
        s = t;
        break;
      }
    }
    // (3)-(5) subj-leader and subj-blob, repeated until nothing changes.
    for (;;) {
      const before = s;
      const leader = LEADER.exec(s);
      if (leader && leader[0].length > 0) {
        // Only a leader with a subj-refwd in it marks a reply; a bare WSP does not.
        if (leader[0].trim() !== '') refwd = true;
        s = s.slice(leader[0].length);
      }
      const blob = BLOB.exec(s);
      // subj-base is non-empty: the blob goes only if something other than whitespace follows it.
      if (blob && /[^ ]/.test(s.slice(blob[0].length))) s = s.slice(blob[0].length);
      if (s === before) break;
    }
    // (6) subj-fwd-hdr "[fwd:" ... subj-fwd-trl "]"
    if (s.length >= 6 && s.slice(0, 5).toLowerCase() === '[fwd:' && s.endsWith(']')) {
      s = s.slice(5, -1);
      refwd = true;
      continue;
    }
    return { base: s, refwd };
  }
}

/** RFC 5256 §2.1 base subject of a decoded subject. */
export function baseSubject(decoded: string): string {
  return subjectInfo(decoded).base;
}

// subj-blob = "[" *BLOBCHAR "]" *WSP ; BLOBCHAR is any octet but "[" and "]".
const BLOB = /^\[[^[\]]*\] */;
// subj-leader = (*subj-blob subj-refwd) / WSP ; subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
const LEADER = /^(?:(?:\[[^[\]]*\] *)*(?:re|fwd?) *(?:\[[^[\]]*\] *)?:|  *)/i;
