/**
 * @module node/sieve/vacation
 * Whether a vacation action may answer this message (RFC 5230 §4.5 and
 * RFC 3834 §2), and the reply itself (RFC 5230 §4.4-4.6, RFC 3834 §3). Pure:
 * the "already answered this sender within :days" memory is the caller's,
 * keyed by responseKey.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Action, SieveMessage } from './interpret.js';

type Vacation = Extract<Action, { type: 'vacation' }>;

export interface VacationContext {
  message: SieveMessage;
  /** MAIL FROM of the incoming message ("" for the null reverse-path). */
  sender: string;
  /** The envelope recipient this copy was delivered for. */
  recipient: string;
  /** Every address of the account (its own and its aliases). */
  userAddresses: string[];
  hostname: string;
}

const LIST_FIELDS = ['list-id', 'list-help', 'list-subscribe', 'list-unsubscribe', 'list-post', 'list-owner', 'list-archive'];

/** Why no reply is sent, or null when one may be. */
export function vacationRefusal(action: Vacation, ctx: VacationContext): string | null {
  const sender = ctx.sender.toLowerCase();
  // RFC 3834 §2: never answer the null reverse-path (bounces, other auto-replies).
  if (sender === '') return 'null sender';
  const local = sender.split('@')[0];
  // RFC 5230 §4.5: nor the usual automated senders.
  if (/^(owner-.*|.*-request|mailer-daemon|listserv|majordomo|.*-bounces?|noreply|no-reply|do-not-reply)$/.test(local)) return 'automated sender';
  const mine = [...ctx.userAddresses, ...action.addresses, ctx.recipient].map((a) => a.toLowerCase());
  if (mine.includes(sender)) return 'own address';
  const auto = ctx.message.header('auto-submitted')[0];
  if (auto && auto.trim().split(/[\s;(]/)[0].toLowerCase() !== 'no') return 'Auto-Submitted';
  if (LIST_FIELDS.some((f) => ctx.message.header(f).length > 0)) return 'mailing list';
  const precedence = (ctx.message.header('precedence')[0] ?? '').trim().toLowerCase();
  if (['bulk', 'list', 'junk'].includes(precedence)) return `Precedence: ${precedence}`;
  // RFC 5230 §4.5: only mail addressed to the user explicitly; a Bcc or a list is not.
  const named = ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc'].flatMap((f) => ctx.message.addresses(f).map((a) => a.address.toLowerCase()));
  if (!named.some((a) => mine.includes(a))) return 'not addressed to the user';
  return null;
}

/** The tracking key: one reply per sender per handle per period (RFC 5230 §4.2). */
export function responseKey(action: Vacation, sender: string): string {
  return createHash('sha256').update(action.handle).update('\0').update(sender.toLowerCase()).digest('base64url');
}

function encodeWord(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?utf-8?B?${Buffer.from(s).toString('base64')}?=`;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}

/** The reply message (CRLF line ends), sent with a null reverse-path. */
export function vacationReply(action: Vacation, ctx: VacationContext, now = new Date()): Buffer {
  const from = oneLine(action.from ?? ctx.recipient);
  const original = ctx.message.header('subject')[0] ?? '';
  // RFC 5230 §4.4: "Auto:" and the original subject when none is given.
  const subject = oneLine(action.subject ?? `Auto: ${original}`);
  const msgId = (ctx.message.header('message-id')[0] ?? '').trim();
  const refs = [...(ctx.message.header('references')[0] ?? '').split(/\s+/).filter(Boolean), msgId].filter(Boolean);
  const lines = [
    `From: ${from}`,
    `To: <${ctx.sender}>`,
    `Subject: ${encodeWord(subject)}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${ctx.hostname}>`,
    ...(msgId ? [`In-Reply-To: ${msgId}`, `References: ${refs.join(' ')}`] : []),
    // RFC 3834 §5: marks the reply so other responders do not answer it.
    'Auto-Submitted: auto-replied (vacation)',
    'MIME-Version: 1.0',
  ];
  const reason = action.reason.replace(/\r?\n/g, '\r\n');
  // With :mime the reason is itself a MIME entity: its header fields follow ours.
  const body = action.mime ? reason : `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${reason}`;
  return Buffer.from(lines.join('\r\n') + '\r\n' + body + (body.endsWith('\r\n') ? '' : '\r\n'));
}
