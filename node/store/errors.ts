/**
 * @module node/store/errors
 * Domain errors the store throws. Protocols map each to their wire reply in
 * one function (SMTP code, IMAP response code, DAV status); none of them
 * carries a protocol code itself.
 */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class WrongKeyError extends StoreError {
  constructor(readonly path: string) {
    super(`cannot decrypt ${path}: the key is wrong, or the file is not a Haven database`);
  }
}

export class CorruptDatabaseError extends StoreError {
  constructor(readonly path: string, readonly detail: string) {
    super(`database ${path} is damaged (${detail}); restore it with \`haven restore --mailbox\` or from a backup`);
  }
}

export class AuthFailedError extends StoreError {
  constructor(message = 'wrong address or password') {
    super(message);
  }
}

export class NotFoundError extends StoreError {}
export class DomainExistsError extends StoreError {}
export class AccountExistsError extends StoreError {}
export class AliasExistsError extends StoreError {}
export class MailboxExistsError extends StoreError {}
export class NoSuchMailboxError extends StoreError {}
export class MailboxLockedError extends StoreError {
  constructor(readonly accountId: string) {
    super('mailbox is locked: its owner has not logged in since the server started (zero-access mode)');
  }
}
export class QuotaExceededError extends StoreError {
  constructor(readonly usedBytes: number, readonly limitBytes: number) {
    super(`quota exceeded: ${usedBytes} of ${limitBytes} bytes used; delete mail or raise the quota`);
  }
}
export class InvalidNameError extends StoreError {}
export class DiskFullError extends StoreError {
  constructor(readonly path: string) {
    super(`disk full while writing ${path}; nothing was stored — free space on the data volume and retry`);
  }
}
export class ConflictError extends StoreError {}
/**
 * This node may not take writes now: it is a standby, or it lost the primary
 * role to another node (node/replication/fence). Temporary by nature: the
 * client retries and reaches the primary (SMTP 451, IMAP NO [UNAVAILABLE], HTTP 503).
 */
export class WritesRefusedError extends StoreError {}
export class WeakPasswordError extends StoreError {}

/** Maps SQLite's disk-full and I/O codes to domain errors; rethrows the rest. */
export function translateSqliteError(err: unknown, path: string): never {
  const code = (err as { code?: string }).code;
  if (code === 'SQLITE_FULL') throw new DiskFullError(path);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') throw new CorruptDatabaseError(path, (err as Error).message);
  throw err;
}
