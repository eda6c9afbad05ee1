/**
 * @module node/rspamd/learner
 * Teaching rspamd from what owners do: a message copied or moved into Junk,
 * or flagged $Junk, is learned as spam; one moved out of Junk (not to Trash),
 * or flagged $NotJunk, as ham. It listens to the store's change events, so
 * IMAP, the web UI and any later client teach the same way without the
 * protocol code knowing. Learning runs in the background, a few at a time;
 * a failure is logged and forgotten (the owner's move itself has happened).
 */
import type { Mailbox, MailboxChange, Store } from '../store/index.js';
import type { Logger } from '../util/log.js';
import { RspamdUnavailableError, type Rspamd } from './client.js';

const CONCURRENCY = 2;
/** Beyond this many waiting lessons (or bytes) new ones are dropped: a bulk move must not hold its messages in memory. */
const MAX_WAITING = 200;
const MAX_WAITING_BYTES = 32 * 1024 * 1024;
/** Bigger messages are not lessons: their text is a sliver of their size (attachments), and rspamd would read it all. */
const MAX_LESSON_BYTES = 2 * 1024 * 1024;
/**
 * A lesson whose connection failed is sent again this many times, a moment later: a controller
 * restarting or a connection cut should not lose the owner's lesson, and learning the same
 * message twice is harmless (208, already learned).
 */
const RETRIES = 2;
const RETRY_MS = 250;

function isJunk(f: { name: string; specialUse: string | null } | null): boolean {
  return !!f && (f.specialUse === '\\Junk' || f.name.toLowerCase() === 'junk');
}

function isTrash(f: { name: string; specialUse: string | null } | null): boolean {
  return !!f && (f.specialUse === '\\Trash' || f.name.toLowerCase() === 'trash');
}

/** What a change teaches: spam, ham or nothing. Pure. */
export function lessonOf(change: MailboxChange, folderById: (id: number) => { name: string; specialUse: string | null } | null): 'spam' | 'ham' | null {
  if (change.type === 'exists' && change.copiedFrom !== undefined) {
    const from = folderById(change.copiedFrom);
    const to = folderById(change.folderId);
    if (isJunk(to) && !isJunk(from)) return 'spam';
    if (isJunk(from) && !isJunk(to) && !isTrash(to)) return 'ham';
    return null;
  }
  if (change.type === 'flags' && change.stored && change.stored.mode !== 'remove') {
    const flags = change.stored.flags.map((f) => f.toLowerCase());
    if (flags.includes('$junk')) return 'spam';
    if (flags.includes('$notjunk')) return 'ham';
  }
  return null;
}

export interface Learner {
  /** Resolves when every lesson so far has been sent (tests). */
  idle(): Promise<void>;
  stop(): void;
  readonly stats: { learned: number; already: number; failed: number; dropped: number };
}

export function startLearner(store: Store, rspamd: Rspamd, log: Logger): Learner {
  const waiting: { kind: 'spam' | 'ham'; raw: Buffer; deliverTo: string; tries?: number }[] = [];
  let waitingBytes = 0;
  let running = 0;
  let idleWaiters: (() => void)[] = [];
  const stats = { learned: 0, already: 0, failed: 0, dropped: 0 };

  const pump = () => {
    while (running < CONCURRENCY && waiting.length > 0) {
      const job = waiting.shift()!;
      waitingBytes -= job.raw.length;
      running++;
      rspamd
        .learn(job.kind, job.raw, job.deliverTo)
        .then(
          (r) => {
            stats[r]++;
            log.debug({ kind: job.kind, result: r }, 'rspamd learned');
          },
          async (err: Error) => {
            const tries = (job.tries ?? 0) + 1;
            if (err instanceof RspamdUnavailableError && tries <= RETRIES && !stopped) {
              log.debug({ kind: job.kind, err: err.message, tries }, 'rspamd learn failed; trying again');
              await new Promise((r) => setTimeout(r, RETRY_MS));
              waiting.unshift({ ...job, tries });
              waitingBytes += job.raw.length;
              return;
            }
            stats.failed++;
            log.warn({ kind: job.kind, err: err.message }, 'rspamd could not learn');
          },
        )
        .finally(() => {
          running--;
          pump();
        });
    }
    if (running === 0 && waiting.length === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      w.forEach((f) => f());
    }
  };

  const onChange = (accountId: string, mailbox: Mailbox, change: MailboxChange) => {
    if (change.type !== 'exists' && change.type !== 'flags') return;
    const kind = lessonOf(change, (id) => mailbox.folders.byId(id));
    if (!kind) return;
    const address = store.directory.getAccountById(accountId)?.address ?? '';
    for (const uid of change.uids) {
      const meta = mailbox.messages.get(change.folderId, uid);
      if (!meta || meta.size > MAX_LESSON_BYTES) continue;
      if (waiting.length >= MAX_WAITING || waitingBytes + meta.size > MAX_WAITING_BYTES) {
        stats.dropped++;
        continue;
      }
      // Read now, while the change's mailbox is surely open; the lesson goes out later.
      const raw = mailbox.messages.raw(meta.blobId);
      waitingBytes += raw.length;
      waiting.push({ kind, raw, deliverTo: address });
    }
    pump();
  };

  const unsubscribe = store.onMailboxChange(onChange);
  let stopped = false;
  return {
    stats,
    idle: () => (running === 0 && waiting.length === 0 ? Promise.resolve() : new Promise((r) => idleWaiters.push(r))),
    stop: () => {
      stopped = true;
      unsubscribe();
      waiting.length = 0;
      waitingBytes = 0;
    },
  };
}
