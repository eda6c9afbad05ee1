/**
 * @module node/smtp/errors
 * SMTP replies as values: `SmtpError(code, enhanced, text)` carries its wire
 * reply (RFC 5321 §4.2 code, RFC 3463 enhanced code), the named reply codes,
 * and `toSmtpError`, the one place store errors become SMTP replies. Unknown
 * errors become `451 4.3.0`, logged with their stack and reported as
 * unexpected, because a tidy temporary failure still hides a bug.
 */
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { VerifierGoneError } from './verify/protocol.js';
import {
  AuthFailedError,
  CorruptDatabaseError,
  DiskFullError,
  WritesRefusedError,
  MailboxLockedError,
  NotFoundError,
  QuotaExceededError,
  WrongKeyError,
} from '../store/index.js';

/** Reply codes (RFC 5321 §4.2.2), named for what they say. */
export const Reply = {
  Ok: 250,
  ServiceUnavailable: 421,
  MailboxBusy: 450,
  LocalError: 451,
  InsufficientStorage: 452,
  TempAuthFailure: 454,
  SyntaxError: 501,
  BadSequence: 503,
  AuthRequired: 530,
  AuthFailed: 535,
  MailboxUnavailable: 550,
  ExceededStorage: 552,
  MailboxNameNotAllowed: 553,
  TransactionFailed: 554,
} as const;

export class SmtpError extends Error {
  /** smtp-server reads this to choose the reply code. */
  readonly responseCode: number;

  constructor(
    readonly code: number,
    readonly enhanced: string,
    readonly text: string,
  ) {
    // smtp-server sends err.message after the code; our patched send() (server.ts)
    // lifts the enhanced code from the front so the library does not guess one.
    super(`${enhanced} ${text}`);
    this.name = 'SmtpError';
    this.responseCode = code;
  }

  get temporary(): boolean {
    return this.code >= 400 && this.code < 500;
  }
}

// The replies Haven sends, each saying what to do next.
export const replies = {
  unknownUser: (addr: string) => new SmtpError(Reply.MailboxUnavailable, '5.1.1', `<${addr}>: no such user here; check the address`),
  relayDenied: (addr: string) =>
    new SmtpError(Reply.MailboxUnavailable, '5.7.1', `<${addr}>: relay access denied; this server accepts mail only for its own domains (authenticate on the submission port to send)`),
  badAddress: (addr: string) => new SmtpError(Reply.MailboxNameNotAllowed, '5.1.3', `<${addr}>: address syntax not accepted; use a plain local@domain address`),
  overQuota: () => new SmtpError(Reply.InsufficientStorage, '4.2.2', 'mailbox full; try again later'),
  tooManyRecipients: (max: number) => new SmtpError(Reply.InsufficientStorage, '4.5.3', `too many recipients (at most ${max} per message); send the rest in another transaction`),
  unknownParam: (name: string) => new SmtpError(555, '5.5.4', `parameter ${name.replace(/[^\w-]/g, '').slice(0, 40)} not recognised; send the command without it`),
  bareNewline: () =>
    new SmtpError(Reply.TransactionFailed, '5.6.11', 'message refused: bare CR or LF in DATA (RFC 5321 §2.3.8); send lines ending in CRLF'),
  tooBig: (max: number) => new SmtpError(Reply.ExceededStorage, '5.3.4', `message larger than the limit of ${max} bytes; send a smaller message`),
  dmarcReject: (domain: string) => new SmtpError(Reply.MailboxUnavailable, '5.7.1', `message refused: DMARC policy of ${domain} says reject and authentication failed; ask the sender to fix SPF/DKIM`),
  dnsTempFail: (domain: string) =>
    new SmtpError(Reply.LocalError, '4.4.3', `could not look up the DMARC policy of ${domain} (DNS error); try again later`),
  spam: () => new SmtpError(Reply.MailboxUnavailable, '5.7.1', 'message refused as spam; contact the postmaster if this is wrong'),
  spamNotForwarded: () =>
    new SmtpError(Reply.MailboxUnavailable, '5.7.1', 'message looks like spam and this address forwards elsewhere, so it is refused; contact the postmaster if this is wrong'),
  verifyInterrupted: () =>
    new SmtpError(Reply.LocalError, '4.3.0', 'the authentication checks (SPF, DKIM, DMARC) of this message were interrupted by a local fault; try again later'),
  tempFailed: (why: string) => new SmtpError(Reply.LocalError, '4.3.0', `${why}; try again later`),
  authRequired: () => new SmtpError(Reply.AuthRequired, '5.7.0', 'authentication required; log in with AUTH first'),
  tlsRequired: () => new SmtpError(Reply.AuthRequired, '5.7.0', 'must issue STARTTLS first; this port sends passwords only over TLS'),
  authFailed: () => new SmtpError(Reply.AuthFailed, '5.7.8', 'authentication failed; check the address and password (or app password)'),
  authLocked: (seconds: number) => new SmtpError(Reply.TempAuthFailure, '4.7.0', `too many failed logins; try again in ${Math.ceil(seconds / 60)} minute(s)`),
  notOwner: (addr: string) => new SmtpError(Reply.MailboxUnavailable, '5.7.1', `<${addr}>: sender address not owned by this account; send as one of your own addresses`),
  rateLimited: (n: number) => new SmtpError(Reply.LocalError, '4.7.0', `sending limit of ${n} messages per hour reached; try again later`),
  authzidRefused: () => new SmtpError(Reply.AuthFailed, '5.7.8', 'logging in on behalf of another user is not supported; leave the authorization identity empty'),
  leadingWhitespace: () =>
    new SmtpError(554, '5.6.0', 'the message starts with a space or tab, which would continue a header field (RFC 5322 §2.2.3); start it with a header field'),
  memoryBusyConnect: () => new SmtpError(Reply.ServiceUnavailable, '4.3.2', 'the server is short of memory right now; try again in a few minutes'),
  memoryBusy: () => new SmtpError(Reply.InsufficientStorage, '4.3.1', 'the server is short of memory right now; try again in a few minutes'),
  nulByte: () => new SmtpError(554, '5.6.0', 'message contains a NUL byte, which RFC 5321 and RFC 5322 do not allow; encode binary content (base64)'),
  probing: () => new SmtpError(Reply.ServiceUnavailable, '4.7.0', 'too many unknown recipients; closing. Check the addresses and try later'),
  tooManyConnections: () => new SmtpError(Reply.ServiceUnavailable, '4.7.0', 'too many connections from your address; close some and retry'),
  nullSenderOnly: (addr: string) => new SmtpError(Reply.MailboxUnavailable, '5.7.1', `<${addr}>: this return address only accepts bounces`),
};

/** The client went away mid-DATA (or we closed it): nothing to answer, nothing to report. */
export class ClientGoneError extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'ClientGoneError';
  }
}

/**
 * The single mapping from anything thrown below a command to an SMTP reply.
 * Unknown errors are bugs: logged with stack, reported, answered 451 4.3.0.
 */
export function toSmtpError(err: unknown, log?: Logger): SmtpError {
  if (err instanceof SmtpError) return err;
  // I/O errors close quietly: the reply goes nowhere.
  if (err instanceof ClientGoneError) return replies.tempFailed('connection closed');
  if (err instanceof QuotaExceededError) return replies.overQuota();
  // The verification worker died holding the message (verify/thread.ts logged why): nothing was decided, so the sender retries.
  if (err instanceof VerifierGoneError) {
    log?.warn({ err: err.message }, 'message deferred: its verification was interrupted');
    return replies.verifyInterrupted();
  }
  if (err instanceof DiskFullError) return new SmtpError(Reply.InsufficientStorage, '4.3.1', 'mail system full; try again later');
  // RFC 3463 4.3.0: a transient mail-system condition; the sender's queue retries and reaches the primary.
  if (err instanceof WritesRefusedError) return new SmtpError(Reply.LocalError, '4.3.0', err.message);
  if (err instanceof MailboxLockedError) return new SmtpError(Reply.MailboxBusy, '4.2.1', 'mailbox temporarily unavailable; try again later');
  if (err instanceof AuthFailedError) return replies.authFailed();
  if (err instanceof NotFoundError) return new SmtpError(Reply.MailboxUnavailable, '5.1.1', 'no such user here; check the address');
  if (err instanceof CorruptDatabaseError || err instanceof WrongKeyError) {
    log?.error({ err }, 'storage failure');
    return replies.tempFailed('local storage error');
  }
  log?.error({ err }, 'unexpected error in SMTP command');
  reportUnexpected(err);
  return replies.tempFailed('local error in processing');
}
