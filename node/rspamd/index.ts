/**
 * @module node/rspamd
 * Content spam filtering with rspamd: the HTTP client and its health, the
 * content filter SMTP scores with, and the learner that teaches rspamd from
 * messages owners move into and out of Junk.
 */
export { Rspamd, RspamdUnavailableError, type RspamdHealth, type RspamdOptions, type RspamdVerdict } from './client.js';
export { rspamdFilter } from './filter.js';
export { lessonOf, startLearner, type Learner } from './learner.js';
