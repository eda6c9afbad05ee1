/**
 * @module node/smtp
 * SMTP for Haven: the inbound MX, submission (587/465), the outbound queue
 * runner and the mail-authentication pieces they share.
 */
export { startSmtp } from './server.js';
export { signMessage } from './dkim.js';
export { startQueueRunner, DEFAULT_OUTBOUND, type QueueRunnerDeps, type QueueRunner, type OutboundOptions, type RunnerEvent } from './outbound/runner.js';
export { SmtpError, Reply, replies, toSmtpError } from './errors.js';
export { systemResolver, resolverFor, type Resolver } from './dns.js';
export { Srs } from './srs.js';
export { verifyThread, VerifierGoneError } from './verify.js';
export { GreetPause, DEFAULT_GREET_PAUSE, type GreetPauseOptions } from './greet-pause.js';
export { queueFor, srsFor } from './context.js';
export { smtpSettings, type SmtpSettings } from './settings.js';
export type { SmtpDeps, SmtpLimits, SmtpListen, SmtpServerHandle } from './types.js';
export type { ContentFilter, ContentVerdict, SpamAction, SpamInput, SpamOptions, SpamScorer, SpamSignal } from './spam.js';
