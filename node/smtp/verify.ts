/**
 * @module node/smtp/verify
 * Inbound mail authentication: SPF, DKIM, DMARC and ARC through mailauth,
 * the Authentication-Results header (RFC 8601), the DMARC p=reject decision
 * and, for messages we forward, the ARC seal (RFC 8617) that lets the next
 * hop trust our verdict after SRS changed the envelope.
 *
 * mailauth itself runs on the verification worker (verify/thread.ts), which
 * takes its CPU (DKIM body hashing, RSA and Ed25519, header parsing) off the
 * thread that serves every session; the decisions below stay here.
 */
import type { AuthenticateResult } from 'mailauth';
import type { Logger } from '../util/log.js';
import type { Resolver } from './dns.js';
import { verifyThread } from './verify/thread.js';

export { VerifierGoneError } from './verify/protocol.js';
export { verifyThread } from './verify/thread.js';

export interface VerifyInput {
  raw: Buffer;
  ip: string;
  helo: string;
  mailFrom: string;
  hostname: string;
  resolver: Resolver;
  /** Seal with this key when the message will be forwarded. */
  seal?: { signingDomain: string; selector: string; privateKey: string };
  /**
   * Forwarders and mailing lists whose ARC seal we trust (domains, subdomains
   * included): when one of them sealed a valid chain, a DMARC failure is
   * taken as the forwarder's doing, not forgery (RFC 8617 §7.2.1, RFC 7489
   * §6.7 local policy), and p=reject does not refuse the message.
   */
  trustedArcSealers?: readonly string[];
  /** Where a worker's death is reported. */
  log?: Logger;
}

export interface Verdict {
  result: AuthenticateResult;
  /** Header block to prepend (Received-SPF, Authentication-Results, ARC set when sealed), CRLF-terminated. */
  headers: string;
  /** The From domain's DMARC policy says reject and the message failed it. */
  dmarcReject: boolean;
  /** The DMARC policy could not be looked up (DNS timeout or SERVFAIL): ask the sender to retry. */
  dmarcTempError: boolean;
  /** The trusted sealer whose ARC chain overrode a DMARC reject, if any. */
  arcOverride: string | null;
  fromDomain: string | null;
}

/** Throws VerifierGoneError when the worker died with the message (the caller answers 4xx). */
export async function verifyMessage(input: VerifyInput): Promise<Verdict> {
  const result = (await verifyThread.authenticate(
    input.raw,
    {
      ip: input.ip.startsWith('::ffff:') ? input.ip.slice(7) : input.ip,
      helo: input.helo,
      sender: input.mailFrom,
      mta: input.hostname,
      seal: input.seal,
    },
    input.resolver,
    input.log,
  )) as AuthenticateResult;
  return judge(result, input.trustedArcSealers ?? []);
}

/** The decisions Haven takes on mailauth's result. */
export function judge(result: AuthenticateResult, trustedArcSealers: readonly string[]): Verdict {
  const dmarc = result.dmarc || null;
  // RFC 7489 §6.6.3: "reject" (or sp=reject for a subdomain) on a failed check,
  // unless a trusted forwarder's ARC chain explains the failure.
  const policy = dmarc ? (dmarc.policy ?? dmarc.p) : null;
  const failedReject = !!dmarc && dmarc.status.result === 'fail' && policy === 'reject';
  // Anyone can seal with their own key, so a passing chain proves only who sealed it; it counts when we trust that sealer.
  const arc = result.arc as { status?: { result?: string }; signature?: { signingDomain?: string } } | undefined;
  const sealer = arc?.status?.result === 'pass' ? (arc.signature?.signingDomain ?? '').toLowerCase() : '';
  const trusted = sealer !== '' && trustedArcSealers.some((d) => sealer === d.toLowerCase() || sealer.endsWith(`.${d.toLowerCase()}`));
  const arcOverride = failedReject && trusted ? sealer : null;
  const dmarcReject = failedReject && !arcOverride;
  // RFC 7489 leaves DNS errors to the receiver. Accepting would let a forged
  // p=reject sender through whenever DNS is down; a 4xx costs an honest sender
  // only a retry, which every MTA makes for days.
  const dmarcTempError = !!dmarc && dmarc.status.result === 'temperror';
  const fromDomain = dmarc ? (dmarc.domain ?? (dmarc.status.header as { from?: string } | undefined)?.from ?? null) : null;
  return { result, headers: result.headers, dmarcReject, dmarcTempError, arcOverride, fromDomain };
}
