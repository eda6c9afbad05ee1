/**
 * @module node/transfer
 * haven import and haven export: bring mail, calendars and contacts in from
 * another server or from files, and take them out in open formats. Jobs run
 * in the process that holds the data directory (jobs.ts); parsers are pure
 * (utf7, mbox, mbox-status, maildir, ical-split, imap-folders).
 */
export { cancelJob, detectKind, jobEnded, jobStatus, listJobs, startJob, TransferInputError, type ImportSourceSpec, type JobSpec, type JobView, type LocalKind } from './jobs.js';
export { formatProgress, type ProgressSnapshot } from './progress.js';
export type { ExportFormat, Manifest } from './export.js';
export { allowForcedCollections } from './memory.js';
