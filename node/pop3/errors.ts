/**
 * @module node/pop3/errors
 * POP3's error value and the one place store errors become wire replies.
 * A Pop3Error carries its RFC 2449 response code (RESP-CODES, AUTH-RESP-CODE)
 * and whether the connection must close after the reply.
 */
import {
  AuthFailedError,
  CorruptDatabaseError,
  DiskFullError,
  WritesRefusedError,
  MailboxLockedError,
  NoSuchMailboxError,
  WrongKeyError,
} from '../store/index.js';

/** Extended response codes: RFC 2449 §8 (IN-USE, LOGIN-DELAY), RFC 3206 (SYS/TEMP, SYS/PERM, AUTH). */
export type Pop3RespCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class Pop3Error extends ProtocolError {
  constructor(
    readonly code: Pop3RespCode | null,
    readonly text: string,
    /** Close the connection after sending this reply. */
    readonly close = false,
  ) {
    super(code ? `[${code}] ${text}` : text);
  }
}

/** Another POP3 session holds this maildrop (RFC 1939 §8: exclusive-access lock). */
export class MaildropInUseError extends Error {
  constructor() {
    super('maildrop in use');
    this.name = 'MaildropInUseError';
  }
}

/**
 * Store and port errors to POP3 replies. Returns null for errors nobody
 * expected: the session logs those with their stack and answers SYS/TEMP.
 */
export function toPop3Error(err: unknown): Pop3Error | null {
  if (err instanceof Pop3Error) return err;
  if (err instanceof AuthFailedError) return new Pop3Error('AUTH', 'wrong user name or password; check both, or use an app password');
  if (err instanceof MaildropInUseError)
    return new Pop3Error('IN-USE', 'another POP3 session has this maildrop open; close it (or wait for it to time out) and retry');
  if (err instanceof MailboxLockedError) return new Pop3Error('SYS/TEMP', 'mailbox is locked; log in again');
  if (err instanceof DiskFullError) return new Pop3Error('SYS/TEMP', 'the server is out of disk space; nothing was changed, retry later');
  if (err instanceof WritesRefusedError) return new Pop3Error('SYS/TEMP', err.message);
  if (err instanceof CorruptDatabaseError || err instanceof WrongKeyError)
    return new Pop3Error('SYS/PERM', 'the mailbox cannot be read; ask the operator to restore it');
  if (err instanceof NoSuchMailboxError) return new Pop3Error('SYS/PERM', 'the mailbox has no INBOX; ask the operator to repair it');
  return null;
}
