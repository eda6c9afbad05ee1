/**
 * @module node/smtp/verify
 * Inbound mail authentication: SPF, DKIM, DMARC and ARC through mailauth,
 * the Authentication-Results header (RFC 8601), the DMARC p=reject decision
 * and, for messages we forward, the ARC seal (RFC 8617) that lets the next
 * hop trust our verdict after SRS changed the envelope.
 */
import { authenticate, type AuthenticateResult } from 'mailauth';
import type { Resolver } from './dns.js';

export interface VerifyInput {
  raw: Buffer;
  ip: string;
  helo: string;
  mailFrom: string;
  hostname: string;
  resolver: Resolver;
  /** Seal with this key when the message will be forwarded. */
  seal?: { signingDomain: string; selector: string; privateKey: string };
}

export interface Verdict {
  result: AuthenticateResult;
  /** Header block to prepend (Received-SPF, Authentication-Results, ARC set when sealed), CRLF-terminated. */
  headers: string;
  /** The From domain's DMARC policy says reject and the message failed it. */
  dmarcReject: boolean;
  /** The DMARC policy could not be looked up (DNS timeout or SERVFAIL): ask the sender to retry. */
  dmarcTempError: boolean;
  fromDomain: string | null;
}

export async function verifyMessage(input: VerifyInput): Promise<Verdict> {
  const result = await authenticate(input.raw, {
    ip: input.ip.startsWith('::ffff:') ? input.ip.slice(7) : input.ip,
    helo: input.helo,
    sender: input.mailFrom,
    mta: input.hostname,
    resolver: input.resolver,
    disableBimi: true,
    seal: input.seal,
  });
  const dmarc = result.dmarc || null;
  // RFC 7489 §6.6.3: "reject" (or sp=reject for a subdomain) on a failed check.
  // A passing ARC chain from an upstream forwarder could override this; we do
  // not keep a trusted-forwarder list yet, so reject stays reject.
  const policy = dmarc ? (dmarc.policy ?? dmarc.p) : null;
  const dmarcReject = !!dmarc && dmarc.status.result === 'fail' && policy === 'reject';
  // RFC 7489 leaves DNS errors to the receiver. Accepting would let a forged
  // p=reject sender through whenever DNS is down; a 4xx costs an honest sender
  // only a retry, which every MTA makes for days.
  const dmarcTempError = !!dmarc && dmarc.status.result === 'temperror';
  const fromDomain = dmarc ? (dmarc.domain ?? (dmarc.status.header as { from?: string } | undefined)?.from ?? null) : null;
  return { result, headers: result.headers, dmarcReject, dmarcTempError, fromDomain };
}
