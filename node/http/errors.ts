/**
 * @module node/http/errors
 * The admin API's one error shape, `{"error": "<what to do next>"}`, and the
 * one function that maps store and DNS domain errors to HTTP statuses.
 */
import { InvalidInputError } from '../admin/operations.js';
import { DnsInputError } from '../dns/index.js';
import {
  AccountExistsError,
  AliasExistsError,
  AuthFailedError,
  ConflictError,
  DiskFullError,
  WritesRefusedError,
  DomainExistsError,
  InvalidNameError,
  MailboxLockedError,
  NotFoundError,
  QuotaExceededError,
  WeakPasswordError,
} from '../store/index.js';

export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 500 | 501 | 503 | 507,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API error for a thrown value, or null for an unexpected one (a bug: 500, logged with its stack). */
export function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof NotFoundError) return new ApiError(404, err.message);
  if (err instanceof DomainExistsError || err instanceof AccountExistsError || err instanceof AliasExistsError || err instanceof ConflictError) return new ApiError(409, err.message);
  if (err instanceof InvalidInputError && err.field) return new ApiError(400, `field ${err.message}; see docs/admin-api.md`);
  if (err instanceof InvalidNameError || err instanceof WeakPasswordError) return new ApiError(400, err.message);
  if (err instanceof AuthFailedError) return new ApiError(403, 'the account password is wrong; give the password the account logs in with');
  if (err instanceof MailboxLockedError) return new ApiError(409, 'the mailbox is in use or locked: ask its owner to log out (or log in, for app passwords) and retry');
  if (err instanceof QuotaExceededError) return new ApiError(409, err.message);
  if (err instanceof DnsInputError) return new ApiError(409, `${err.message} (node configuration)`);
  if (err instanceof DiskFullError) return new ApiError(507, err.message);
  if (err instanceof WritesRefusedError) return new ApiError(503, err.message);
  return null;
}
