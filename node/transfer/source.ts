/**
 * @module node/transfer/source
 * What every import source yields, in order: announced totals, then per
 * folder a `folder` event followed by its messages. The job (import-job.ts)
 * batches and writes them; a source only reads, so one can be tested alone.
 */
import type { ImportCursor } from '../store/index.js';
import type { FolderPolicy, IncomingMessage } from './sink.js';

export type SourceEvent =
  /** Null where the source cannot tell without reading everything (an mbox's message count, an IMAP folder's bytes). */
  | { type: 'total'; messages: number | null; bytes: number | null }
  | {
      type: 'folder';
      /** The Haven folder name ('/' separates levels), decoded to Unicode. */
      name: string;
      specialUse: string | null;
      policy: FolderPolicy;
      /** Resumable sources: a hash naming source and folder, and the folder's UIDVALIDITY. */
      cursor?: { source: Buffer; uidValidity: number };
    }
  | { type: 'message'; msg: IncomingMessage };

export interface SourceContext {
  /** Where an earlier run of this import stopped in a source folder. */
  cursor(source: Buffer): ImportCursor | null;
  signal: AbortSignal;
  /** Called when a connection is lost and retried, for the progress line. */
  retried(): void;
}

export type ImportSource = (ctx: SourceContext) => AsyncIterable<SourceEvent>;

/** The special use a folder's name suggests, where the source does not say (mbox files, Maildir++). */
export function guessSpecialUse(name: string): string | null {
  const n = name.toLowerCase().replace(/^inbox[./]/, '');
  if (['sent', 'sent messages', 'sent items', 'sent mail'].includes(n)) return '\\Sent';
  if (['drafts', 'draft'].includes(n)) return '\\Drafts';
  if (['trash', 'deleted messages', 'deleted items', 'bin'].includes(n)) return '\\Trash';
  if (['junk', 'spam', 'junk e-mail', 'junk email'].includes(n)) return '\\Junk';
  if (['archive', 'archives'].includes(n)) return '\\Archive';
  return null;
}
