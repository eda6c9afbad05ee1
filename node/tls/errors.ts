/**
 * @module node/tls/errors
 * The one error this module throws: a certificate or key that cannot be
 * used, with what to do about it.
 */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}
