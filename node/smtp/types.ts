/**
 * @module node/smtp/types
 * What the SMTP listeners and the queue runner are given (the server shape
 * every Haven listener follows, plus SMTP's own extras) and their limits.
 */
import type tls from 'node:tls';
import type { Store } from '../store/index.js';
import type { Queue } from '../store/queue.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import type { Logger } from '../util/log.js';
import type { Resolver } from './dns.js';
import type { SpamOptions } from './spam.js';
import type { Srs } from './srs.js';
import type { GreetPause, GreetPauseOptions } from './greet-pause.js';

export interface SmtpLimits {
  maxMessageBytes: number;
  maxRecipients: number;
  maxConnectionsPerIp: number;
  /** Most connections in all (smtp-server maxClients). */
  maxClients: number;
  /** Idle socket timeout. */
  socketTimeoutMs: number;
  /**
   * Longest a client may take to send one message's DATA. The idle timeout
   * alone lets a client trickle a byte every few minutes and hold a
   * connection slot for days.
   */
  maxDataMs: number;
  messagesPerHourPerAccount: number;
  /** Unknown-recipient answers per IP (and per logged-in account) in the window before the tarpit, and before 421 (node/net ProbeLimiter). */
  unknownRecipientsBeforeTarpit: number;
  unknownRecipientsBeforeDisconnect: number;
  unknownRecipientWindowMs: number;
}

export const DEFAULT_LIMITS: SmtpLimits = {
  maxMessageBytes: 50 * 1024 * 1024,
  maxRecipients: 100,
  maxConnectionsPerIp: 20,
  maxClients: 1000,
  socketTimeoutMs: 5 * 60_000,
  maxDataMs: 15 * 60_000,
  messagesPerHourPerAccount: 500,
  unknownRecipientsBeforeTarpit: 3,
  unknownRecipientsBeforeDisconnect: 10,
  unknownRecipientWindowMs: 10 * 60_000,
};

export interface SmtpDeps {
  store: Store;
  log: Logger;
  authLimiter: AuthLimiter;
  tls: { secureContext(): tls.SecureContext };
  hostname: string;
  limits?: Partial<SmtpLimits>;
  /** DNS for SPF/DKIM/DMARC/ARC, DNSBL (node:dns by default). */
  resolver?: Resolver;
  /** The outbound queue; one per store unless given. */
  queue?: Queue;
  spam?: Partial<SpamOptions>;
  /** Let loopback clients AUTH on 587 without STARTTLS (config allowPlaintextAuthOnLoopback); off by default. */
  allowPlaintextAuthOnLoopback?: boolean;
  /** ARC sealers (forwarders, mailing lists) trusted to override a DMARC reject; none by default. */
  trustedArcSealers?: readonly string[];
  /** The MX's early-talker pause (greet-pause.ts): options, or a shared instance; 100 ms once per client by default. */
  greetPause?: Partial<GreetPauseOptions> | GreetPause;
  /** SRS rewriter; keyed from the directory's `srs.secret` setting unless given. */
  srs?: Srs;
}

export interface SmtpListen {
  host: string;
  port: number;
  implicitTls: boolean;
  mode: 'mx' | 'submission';
}

export interface SmtpServerHandle {
  port: number;
  close(): Promise<void>;
}
