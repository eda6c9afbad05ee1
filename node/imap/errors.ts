/**
 * @module node/imap/errors
 * ImapError carries its wire status and response code; `toImapError` is the
 * one place store errors become IMAP replies (mox's user/server/syntax split).
 */
import {
  AuthFailedError, CorruptDatabaseError, DiskFullError, WritesRefusedError, InvalidNameError, MailboxExistsError,
  MailboxLockedError, NoSuchMailboxError, NotFoundError, QuotaExceededError,
} from '../store/index.js';

export type ResponseCode =
  | 'ALERT' | 'AUTHENTICATIONFAILED' | 'AUTHORIZATIONFAILED' | 'CANNOT' | 'CLIENTBUG' | 'CONTACTADMIN' | 'EXPUNGEISSUED'
  | 'INUSE' | 'LIMIT' | 'NONEXISTENT' | 'NOPERM' | 'OVERQUOTA' | 'PRIVACYREQUIRED' | 'SERVERBUG' | 'TOOBIG'
  | 'UNAVAILABLE' | 'ALREADYEXISTS' | 'TRYCREATE' | 'USEATTR' | 'CLOSED' | 'UIDNOTSTICKY' | 'NOTSAVED' | 'COMPRESSIONACTIVE'
  | 'UNKNOWN-CTE' | 'BADCHARSET (UTF-8 US-ASCII)' | 'PARSE' | 'NOMODSEQ' | 'UNCHANGEDSINCE';

export class ImapError extends Error {
  /** Set by the parser when the tag was read before the error. */
  tag?: string;
  constructor(
    readonly status: 'NO' | 'BAD',
    readonly code: ResponseCode | string | null,
    text: string,
  ) {
    // resp-text is TEXT-CHAR only (RFC 9051 §9): a NUL, CR or LF a client put in a name or argument is never echoed raw.
    super(text.replace(/[\x00-\x1f\x7f]/g, '?'));
    this.name = 'ImapError';
  }
}

/** Store errors to IMAP replies; null when the error is not one we know (a bug). */
export function toImapError(err: unknown, ctx: { tryCreate?: boolean } = {}): ImapError | null {
  if (err instanceof ImapError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof NoSuchMailboxError || err instanceof NotFoundError)
    return new ImapError('NO', ctx.tryCreate ? 'TRYCREATE' : 'NONEXISTENT', `${msg}; check the name with LIST`);
  if (err instanceof MailboxExistsError) return new ImapError('NO', 'ALREADYEXISTS', `${msg}; pick another name`);
  if (err instanceof InvalidNameError) return new ImapError('NO', 'CANNOT', msg);
  if (err instanceof QuotaExceededError) return new ImapError('NO', 'OVERQUOTA', msg);
  if (err instanceof AuthFailedError) return new ImapError('NO', 'AUTHENTICATIONFAILED', 'wrong address or password; check them, or use an app password');
  if (err instanceof MailboxLockedError) return new ImapError('NO', 'UNAVAILABLE', `${msg}; log in again`);
  if (err instanceof DiskFullError) return new ImapError('NO', 'LIMIT', msg);
  // RFC 5530 3: UNAVAILABLE, "temporary failure ... the client may retry later".
  if (err instanceof WritesRefusedError) return new ImapError('NO', 'UNAVAILABLE', msg);
  if (err instanceof CorruptDatabaseError) return new ImapError('NO', 'CONTACTADMIN', 'your mailbox cannot be read right now; the administrator has been told');
  return null;
}
