/**
 * @module node/smtp/settings
 * The one mapping from the node's configuration to SMTP's options: limits,
 * the spam thresholds and DNS blocklists, the smarthost, outbound source
 * addresses, and the three
 * listeners with their ports. main.ts passes these on, so an option in the
 * config file reaches the listener that uses it.
 */
import { parseSmarthostUrl, type Config } from '../config/index.js';
import type { AuthLimiterOptions } from '../util/auth-limiter.js';
import type { OutboundOptions } from './outbound/runner.js';
import type { SpamOptions } from './spam.js';
import type { GreetPauseOptions } from './greet-pause.js';
import type { SmtpLimits, SmtpListen } from './types.js';

export interface SmtpSettings {
  hostname: string;
  limits: Partial<SmtpLimits>;
  spam: Partial<SpamOptions>;
  outbound: Partial<OutboundOptions>;
  /** For the AuthLimiter that SMTP shares with IMAP and POP3. */
  authLimits: Partial<AuthLimiterOptions>;
  allowPlaintextAuthOnLoopback: boolean;
  /** The MX's early-talker pause. */
  greetPause: GreetPauseOptions;
  /** ARC sealers whose seal may override a DMARC reject (mailing lists). */
  trustedArcSealers: string[];
  listeners: SmtpListen[];
}

export function smtpSettings(config: Config): SmtpSettings {
  const host = config.listenAddress;
  const relay = config.smarthost ? parseSmarthostUrl(config.smarthost) : null;
  return {
    hostname: config.hostname,
    limits: {
      maxMessageBytes: config.limits.maxMessageBytes,
      maxRecipients: config.limits.maxRecipients,
      maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
      messagesPerHourPerAccount: config.limits.messagesPerHourPerAccount,
      unknownRecipientsBeforeTarpit: config.limits.unknownRecipientsBeforeTarpit,
      unknownRecipientsBeforeDisconnect: config.limits.unknownRecipientsBeforeDisconnect,
      unknownRecipientWindowMs: config.limits.unknownRecipientWindowSeconds * 1000,
      // The socket timeout stays SMTP's own 5 minutes (RFC 5321 §4.5.3.2), not
      // limits.idleTimeoutSeconds, which is sized for IMAP IDLE.
    },
    spam: { dnsbl: [...config.dnsbl], junkScore: config.spam.junkScore, rejectScore: config.spam.rejectScore },
    outbound: {
      ...(relay ? { smarthost: { host: relay.host, port: relay.port, secure: relay.secure, auth: relay.user ? { user: relay.user, pass: relay.pass ?? '' } : undefined } } : {}),
      ...(config.outbound.sourceAddresses.length > 0 ? { sourceAddresses: [...config.outbound.sourceAddresses] } : {}),
    },
    allowPlaintextAuthOnLoopback: config.allowPlaintextAuthOnLoopback,
    greetPause: {
      pauseMs: config.earlyTalker.pauseMs,
      rememberMs: config.earlyTalker.rememberSeconds * 1000,
      maxRemembered: config.earlyTalker.maxRemembered,
      pauseLoopback: config.earlyTalker.pauseLoopback,
    },
    trustedArcSealers: [...config.trustedArcSealers],
    authLimits: { maxFailures: config.limits.authFailuresBeforeLockout, lockoutMs: config.limits.lockoutSeconds * 1000 },
    listeners: [
      { host, port: config.ports.smtp, implicitTls: false, mode: 'mx' },
      { host, port: config.ports.submission, implicitTls: false, mode: 'submission' },
      { host, port: config.ports.submissions, implicitTls: true, mode: 'submission' },
    ],
  };
}
