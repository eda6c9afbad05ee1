/**
 * @module node/smtp/outbound/notice
 * Where a delivery status notification goes: the sender's mailbox when the
 * address (or the SRS address it was rewritten to) is one of ours, or the
 * submitting account's; otherwise out through the queue with a null sender,
 * so a notice is never itself answered (RFC 3461 §6.2). Null senders get none.
 */
import type { Store } from '../../store/index.js';
import type { Queue } from '../../store/queue.js';
import { resolveRecipient } from '../route.js';
import type { Srs } from '../srs.js';
import { buildDsn, type DsnInput } from './dsn.js';

export interface NoticeDeps {
  store: Store;
  queue: Queue;
  srs: Srs;
}

/** Builds and sends one DSN; resolves with the address it went to (null: no sender to tell). Durable when it resolves. */
export async function sendNotice(deps: NoticeDeps, mailFrom: string, accountId: string | null, input: Omit<DsnInput, 'to'>): Promise<string | null> {
  if (!mailFrom) return null;
  const to = deps.srs.reverse(mailFrom) ?? mailFrom;
  const dsn = buildDsn({ ...input, to });
  const route = accountId ? null : resolveRecipient(deps.store, deps.srs, to);
  const local = accountId ?? (route && route.kind === 'account' ? route.accountId : null);
  if (local) await deps.store.deliver(local, dsn);
  else deps.queue.enqueue({ accountId: null, mailFrom: '', raw: dsn }, [{ rcpt: to }]);
  return to;
}

/** Whether a recipient's NOTIFY list asks for this kind of notice (RFC 3461 §4.1: FAILURE,DELAY when absent). */
export function wantsNotice(notify: string | null | undefined, what: 'SUCCESS' | 'FAILURE' | 'DELAY'): boolean {
  if (!notify) return what !== 'SUCCESS';
  const list = notify.toUpperCase().split(',').map((s) => s.trim());
  return !list.includes('NEVER') && list.includes(what);
}
