/**
 * @module node/dav/scheduling/imip
 * iMIP (RFC 6047): iTIP messages as mail. Builds the message the node sends
 * (text/plain for people, text/calendar with its method for programs, both
 * base64 so any relay carries them) and finds the iTIP part in a received
 * one. Pure: bytes in, bytes out; node/main hands the built message to the
 * SMTP outbound queue through an ImipSender.
 */
import { randomBytes } from 'node:crypto';
import { decodeBody, fieldValue, scanHeader, type MimePart, type ParsedMessage } from '../../mime/index.js';

export interface ImipOutgoing {
  from: string;
  to: string[];
  method: string;
  ics: string;
}

const SUBJECT: Record<string, string> = { REQUEST: 'Invitation', CANCEL: 'Cancelled', REPLY: 'Reply' };

/** RFC 2047 B-encoding for a header text when it is not plain ASCII. */
function headerText(s: string): string {
  const clean = s.replace(/[\r\n]+/g, ' ').slice(0, 200);
  return /^[\x20-\x7e]*$/.test(clean) ? clean : `=?UTF-8?B?${Buffer.from(clean).toString('base64')}?=`;
}

function base64Lines(s: string): string {
  return (Buffer.from(s, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function summaryOf(ics: string): string {
  const m = /^SUMMARY(?:;[^:\r\n]*)?:(.*(?:\r\n[ \t].*)*)/m.exec(ics);
  return m ? m[1].replace(/\r\n[ \t]/g, '').replace(/\\([,;\\])/g, '$1').replace(/\\n/gi, ' ') : '(no title)';
}

/** The RFC 6047 message for one iTIP message. */
export function buildImipMessage(m: ImipOutgoing, now = new Date()): Buffer {
  const boundary = `haven-${randomBytes(12).toString('hex')}`;
  const domain = m.from.split('@')[1] ?? 'localhost';
  const summary = summaryOf(m.ics);
  const method = m.method.toUpperCase();
  const plain =
    method === 'REPLY'
      ? `${m.from} answered the invitation "${summary}".\r\n`
      : method === 'CANCEL'
        ? `${m.from} cancelled "${summary}".\r\n`
        : `${m.from} invites you to "${summary}". Your calendar app can add it from the attached invitation.\r\n`;
  const head = [
    `From: ${m.from}`,
    `To: ${m.to.join(', ')}`,
    `Subject: ${headerText(`${SUBJECT[method] ?? method}: ${summary}`)}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(16).toString('hex')}@${domain}>`,
    'MIME-Version: 1.0',
    'Auto-Submitted: auto-generated',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(plain),
    `--${boundary}`,
    `Content-Type: text/calendar; charset=utf-8; method=${method}`,
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(m.ics),
    `--${boundary}--`,
    '',
  ];
  return Buffer.from([...head, '', ...body].join('\r\n'), 'utf8');
}

function findCalendarPart(p: MimePart, depth = 0): MimePart | null {
  if (depth > 8) return null;
  if (p.type === 'text' && p.subtype === 'calendar' && p.params['method']) return p;
  for (const c of p.parts ?? []) {
    const f = findCalendarPart(c, depth + 1);
    if (f) return f;
  }
  return null;
}

/** Whether a stored message carries an iTIP part (from the parse kept at delivery, without reading the body). */
export function hasItipPart(parsed: Pick<ParsedMessage, 'structure'>): boolean {
  return findCalendarPart(parsed.structure) !== null;
}

/**
 * Whether the From address of a received message can be believed. Mail from
 * outside passes the node's MX, which prepends its Authentication-Results
 * (and strips any that claim its name), so the topmost such field is ours:
 * it must show DMARC pass for the From domain, or a DKIM pass aligned with
 * it. Mail with no Authentication-Results never crossed the
 * MX: local submission (From ownership checked there) or the node's own
 * iMIP, both trustworthy.
 */
export function fromIsAuthentic(raw: Buffer, from: string): boolean {
  const block = scanHeader(raw, 0, Math.min(raw.length, 256 * 1024));
  const ar = block.fields.find((f) => f.name === 'authentication-results');
  if (!ar) return true;
  const domain = from.slice(from.lastIndexOf('@') + 1).toLowerCase();
  // Relaxed alignment (RFC 7489 §3.1.1), approximated: one domain is the other or a subdomain of it.
  const covers = (d: string) => d === domain || domain.endsWith('.' + d) || d.endsWith('.' + domain);
  // authserv-id; resinfo; resinfo … (RFC 8601 §2.2); comments in parentheses carry nothing we need.
  const results = fieldValue(raw, ar).replace(/\([^)]*\)/g, ' ').split(';').slice(1);
  for (const r of results) {
    const m = /^\s*(dmarc|dkim)\s*=\s*pass\b(.*)$/i.exec(r);
    if (!m) continue;
    const props = Object.fromEntries([...m[2].matchAll(/([a-z]+\.[a-z]+)\s*=\s*"?([^\s";]+)"?/gi)].map((x) => [x[1].toLowerCase(), x[2].toLowerCase()]));
    if (m[1].toLowerCase() === 'dmarc' && props['header.from'] === domain) return true;
    const d = props['header.d'] ?? props['header.i']?.slice(props['header.i'].lastIndexOf('@') + 1);
    if (m[1].toLowerCase() === 'dkim' && d && d.includes('.') && covers(d)) return true;
  }
  return false;
}

/** The iTIP text and the From address of a received message; null when it carries no iTIP part. */
export function extractItip(raw: Buffer, parsed: Pick<ParsedMessage, 'structure' | 'envelope'>): { ics: string; from: string } | null {
  const part = findCalendarPart(parsed.structure);
  const from = parsed.envelope.from[0];
  if (!part || !from?.mailbox || !from.host) return null;
  let body: Buffer;
  try {
    body = decodeBody(raw.subarray(part.bodyStart, part.end), part.encoding);
  } catch {
    return null; // unknown transfer encoding: not something we can apply
  }
  return { ics: body.toString('utf8'), from: `${from.mailbox}@${from.host}`.toLowerCase() };
}
