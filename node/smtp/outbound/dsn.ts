/**
 * @module node/smtp/outbound/dsn
 * Delivery status notifications (RFC 3464, multipart/report of RFC 6522):
 * "failed" when a recipient is given up on, "delayed" once while it is still
 * being retried, and, when the sender asked with NOTIFY=SUCCESS (RFC 3461),
 * "delivered" for final delivery here or "relayed" when handed to an MTA we
 * do not pass DSN requests to. A short human explanation, the
 * machine-readable message/delivery-status part, and the original message
 * (or only its headers: when RET=HDRS, when it is large, and always for a
 * success notice, which needs no copy of what arrived).
 */
import { randomBytes } from 'node:crypto';
import { headerEnd, newMessageId, rfc5322Date } from '../headers.js';

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed';

export interface DsnRecipient {
  rcpt: string;
  orcpt: string | null;
  /** The last reply or error text. */
  diagnostic: string;
  remoteMta: string | null;
}

export interface DsnInput {
  action: DsnAction;
  hostname: string;
  to: string;
  envid: string | null;
  ret: string | null;
  arrivalDate: number;
  recipients: DsnRecipient[];
  original: Buffer;
  retryUntil?: number;
}

const FULL_LIMIT = 256 * 1024;

/** The enhanced status code in a reply, else one from its class. */
export function statusOf(diagnostic: string, action: DsnInput['action']): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(diagnostic);
  if (m) return m[1];
  const c = /^([245])\d\d\b/.exec(diagnostic);
  if (c) return `${c[1]}.0.0`;
  return action === 'failed' ? '5.0.0' : action === 'delayed' ? '4.0.0' : '2.0.0';
}

export function buildDsn(input: DsnInput): Buffer {
  const boundary = `haven-dsn-${randomBytes(8).toString('hex')}`;
  const failed = input.action === 'failed';
  const success = input.action === 'delivered' || input.action === 'relayed';
  const who = input.recipients.map((r) => `<${r.rcpt}>`).join(', ');
  const human = success
    ? `This is the mail system at ${input.hostname}.\r\n\r\nYour message to ${who} was ${input.action === 'delivered' ? 'delivered to the recipient\'s mailbox' : 'handed to the next mail server, which will not send further notices'}.\r\nYou asked for this notice; nothing else needs doing.\r\n`
    : failed
    ? `This is the mail system at ${input.hostname}.\r\n\r\nYour message could not be delivered to ${who}.\r\nThe receiving server said:\r\n\r\n${input.recipients.map((r) => `  ${r.rcpt}: ${r.diagnostic}`).join('\r\n')}\r\n\r\nCheck the address, or ask the recipient to fix their mail server, then send again.\r\n`
    : `This is the mail system at ${input.hostname}.\r\n\r\nYour message to ${who} has not been delivered yet; the server keeps trying${input.retryUntil ? ` until ${rfc5322Date(new Date(input.retryUntil))}` : ''}.\r\nYou do not need to do anything now.\r\n\r\n${input.recipients.map((r) => `  ${r.rcpt}: ${r.diagnostic}`).join('\r\n')}\r\n`;
  const perMsg = [`Reporting-MTA: dns; ${input.hostname}`];
  if (input.envid) perMsg.push(`Original-Envelope-Id: ${input.envid}`);
  perMsg.push(`Arrival-Date: ${rfc5322Date(new Date(input.arrivalDate))}`);
  const perRcpt = input.recipients.map((r) => {
    const f = [`Final-Recipient: rfc822; ${r.rcpt}`];
    if (r.orcpt) f.push(`Original-Recipient: ${r.orcpt}`);
    f.push(`Action: ${input.action}`, `Status: ${statusOf(r.diagnostic, input.action)}`);
    if (r.remoteMta) f.push(`Remote-MTA: dns; ${r.remoteMta}`);
    if (/^\d{3}\b/.test(r.diagnostic)) f.push(`Diagnostic-Code: smtp; ${r.diagnostic.replace(/\r?\n/g, ' ')}`);
    else f.push(`Diagnostic-Code: x-haven; ${r.diagnostic.replace(/\r?\n/g, ' ')}`);
    f.push(`Last-Attempt-Date: ${rfc5322Date()}`);
    if (input.action === 'delayed' && input.retryUntil) f.push(`Will-Retry-Until: ${rfc5322Date(new Date(input.retryUntil))}`);
    return f.join('\r\n');
  });
  const headersOnly = success || input.ret?.toUpperCase() === 'HDRS' || input.original.length > FULL_LIMIT;
  // The original goes in as bytes: re-encoding an 8-bit message through a string would alter it.
  let original = headersOnly ? input.original.subarray(0, headerEnd(input.original)) : input.original;
  if (original.length >= 2 && original.subarray(-2).toString('latin1') === '\r\n') original = original.subarray(0, -2);
  const text = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.hostname}>`,
    `To: <${input.to}>`,
    `Subject: ${success ? 'Successful Mail Delivery Report' : failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'}`,
    `Date: ${rfc5322Date()}`,
    `Message-ID: ${newMessageId(input.hostname)}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    perMsg.join('\r\n'),
    '',
    perRcpt.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    `Content-Type: ${headersOnly ? 'text/rfc822-headers' : 'message/rfc822'}`,
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(text), original, Buffer.from(`\r\n--${boundary}--\r\n`)]);
}
