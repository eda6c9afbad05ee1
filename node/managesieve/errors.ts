/**
 * @module node/managesieve/errors
 * A ManageSieve reply as a value (RFC 5804 §1.3): NO or BYE, an optional
 * response code, and a human-readable text that says what to do next.
 */
export type ResponseCode =
  | 'AUTH-TOO-WEAK'
  | 'ENCRYPT-NEEDED'
  | 'QUOTA'
  | 'QUOTA/MAXSCRIPTS'
  | 'QUOTA/MAXSIZE'
  | 'SASL'
  | 'TRYLATER'
  | 'ACTIVE'
  | 'NONEXISTENT'
  | 'ALREADYEXISTS'
  | 'WARNINGS';

export class SieveProtoError extends Error {
  constructor(
    readonly kind: 'NO' | 'BYE',
    readonly code: ResponseCode | null,
    readonly text: string,
  ) {
    super(text);
    this.name = 'SieveProtoError';
  }
}

export const no = (code: ResponseCode | null, text: string) => new SieveProtoError('NO', code, text);
