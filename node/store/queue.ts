/**
 * @module node/store/queue
 * The outbound queue's SQL, over `queue_messages` / `queue_recipients` in the
 * directory database (encrypted with the master key, so queued mail is never
 * readable on disk). One row per message (raw bytes once) and one per
 * recipient with its own state, attempts and next attempt time, so a message
 * to three domains can be sent, deferred and bounced independently.
 * Every write goes through `write()`: durable (synchronous=FULL) when it
 * returns, which is what lets submission answer 250 after enqueueing.
 */
import { randomBytes } from 'node:crypto';
import { write, writeRefusal, type Db } from './db.js';
import { translateSqliteError } from './errors.js';

export type RecipientState = 'queued' | 'sent' | 'failed';

export interface QueuedMessage {
  id: string;
  /** Submitting account (DSNs go to its INBOX); null for forwards and notices. */
  accountId: string | null;
  mailFrom: string;
  size: number;
  envid: string | null;
  ret: string | null;
  createdAt: number;
}

export interface QueuedRecipient {
  id: number;
  messageId: string;
  rcpt: string;
  domain: string;
  orcpt: string | null;
  /** Comma-separated DSN NOTIFY values (RFC 3461), null when not given. */
  notify: string | null;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  delayNotified: boolean;
  updatedAt: number;
}

export interface EnqueueMessage {
  accountId: string | null;
  mailFrom: string;
  raw: Buffer;
  envid?: string | null;
  ret?: string | null;
}

export interface EnqueueRecipient {
  rcpt: string;
  orcpt?: string | null;
  notify?: string | null;
}

export type AttemptResult =
  | { id: number; response: string; outcome: 'sent' | 'failed' }
  | { id: number; response: string; outcome: 'deferred'; nextAttemptAt: number };

type Row = Record<string, unknown>;

const toMessage = (r: Row): QueuedMessage => ({
  id: r.id as string,
  accountId: (r.account_id as string) ?? null,
  mailFrom: r.mail_from as string,
  size: r.size as number,
  envid: (r.envid as string) ?? null,
  ret: (r.ret as string) ?? null,
  createdAt: r.created_at as number,
});

const toRecipient = (r: Row): QueuedRecipient => ({
  id: r.id as number,
  messageId: r.message_id as string,
  rcpt: r.rcpt as string,
  domain: r.domain as string,
  orcpt: (r.orcpt as string) ?? null,
  notify: (r.notify as string) ?? null,
  state: r.state as RecipientState,
  attempts: r.attempts as number,
  nextAttemptAt: r.next_attempt_at as number,
  lastError: (r.last_error as string) ?? null,
  delayNotified: r.delay_notified === 1,
  updatedAt: r.updated_at as number,
});

export class Queue {
  private readonly s;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly path: string,
    readonly db: Db,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insertMessage: p('INSERT INTO queue_messages(id, account_id, mail_from, raw, size, envid, ret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      insertRecipient: p(
        "INSERT INTO queue_recipients(message_id, rcpt, domain, orcpt, notify, state, attempts, next_attempt_at, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
      ),
      due: p("SELECT * FROM queue_recipients WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?"),
      nextDue: p("SELECT min(next_attempt_at) FROM queue_recipients WHERE state = 'queued'").pluck(),
      message: p('SELECT id, account_id, mail_from, size, envid, ret, created_at FROM queue_messages WHERE id = ?'),
      raw: p('SELECT raw FROM queue_messages WHERE id = ?').pluck(),
      recipients: p('SELECT * FROM queue_recipients WHERE message_id = ? ORDER BY id'),
      recipient: p('SELECT * FROM queue_recipients WHERE id = ?'),
      sent: p("UPDATE queue_recipients SET state = 'sent', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? AND state = 'queued'"),
      failed: p("UPDATE queue_recipients SET state = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? AND state = 'queued'"),
      defer: p("UPDATE queue_recipients SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'queued'"),
      delayNotified: p('UPDATE queue_recipients SET delay_notified = 1 WHERE id = ?'),
      pendingCount: p("SELECT count(*) FROM queue_recipients WHERE message_id = ? AND state = 'queued'").pluck(),
      deleteMessage: p('DELETE FROM queue_messages WHERE id = ?'),
      stats: p('SELECT state, count(*) AS n FROM queue_recipients GROUP BY state'),
      list: p('SELECT id, account_id, mail_from, size, envid, ret, created_at FROM queue_messages ORDER BY created_at, id LIMIT ?'),
      retryNow: p("UPDATE queue_recipients SET next_attempt_at = ?, updated_at = ? WHERE message_id = ? AND state = 'queued'"),
      depth: p("SELECT count(*) AS n, min(m.created_at) AS oldest FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id WHERE r.state = 'queued'"),
    };
  }

  private w<T>(fn: () => T): T {
    try {
      return write(this.path, this.db, fn);
    } catch (err) {
      translateSqliteError(err, this.path);
    }
  }

  /** Stores a message and its recipients in one durable transaction; returns its id. */
  enqueue(msg: EnqueueMessage, rcpts: readonly EnqueueRecipient[], now = Date.now()): string {
    if (rcpts.length === 0) throw new Error('enqueue needs at least one recipient');
    const id = `${now.toString(36)}${randomBytes(6).toString('hex')}`;
    this.w(() => {
      this.s.insertMessage.run(id, msg.accountId, msg.mailFrom, msg.raw, msg.raw.length, msg.envid ?? null, msg.ret ?? null, now);
      for (const r of rcpts) {
        const domain = r.rcpt.slice(r.rcpt.lastIndexOf('@') + 1).toLowerCase();
        this.s.insertRecipient.run(id, r.rcpt, domain, r.orcpt ?? null, r.notify ?? null, now, now);
      }
    });
    for (const fn of this.listeners) fn();
    return id;
  }

  /** Called after each enqueue (in process), so a runner can start at once instead of at its next poll. */
  onEnqueue(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Why this node may not work the queue now (it is not the primary: node/replication/fence),
   * or null. An attempt whose outcome cannot be recorded must not start: the message would
   * go out again from here, and once more from the node that now holds the queue.
   */
  refusal(): string | null {
    return writeRefusal(this.path);
  }

  due(now = Date.now(), limit = 100): QueuedRecipient[] {
    return (this.s.due.all(now, limit) as Row[]).map(toRecipient);
  }

  /** When the earliest queued recipient is due, or null when nothing is queued. */
  nextDueAt(): number | null {
    return (this.s.nextDue.get() as number | null) ?? null;
  }

  message(id: string): QueuedMessage | null {
    const r = this.s.message.get(id) as Row | undefined;
    return r ? toMessage(r) : null;
  }

  raw(id: string): Buffer | null {
    return (this.s.raw.get(id) as Buffer | undefined) ?? null;
  }

  recipients(messageId: string): QueuedRecipient[] {
    return (this.s.recipients.all(messageId) as Row[]).map(toRecipient);
  }

  recipient(id: number): QueuedRecipient | null {
    const r = this.s.recipient.get(id) as Row | undefined;
    return r ? toRecipient(r) : null;
  }

  /**
   * Records one delivery attempt's outcome for several recipients at once.
   * Only rows still 'queued' change, so a late duplicate result cannot
   * resurrect or re-fail a recipient.
   */
  record(results: readonly AttemptResult[], now = Date.now()): void {
    this.w(() => {
      for (const r of results) {
        if (r.outcome === 'sent') this.s.sent.run(r.response, now, r.id);
        else if (r.outcome === 'failed') this.s.failed.run(r.response, now, r.id);
        else if (r.outcome === 'deferred') this.s.defer.run(r.response, r.nextAttemptAt, now, r.id);
      }
    });
  }

  markDelayNotified(ids: readonly number[]): void {
    this.w(() => {
      for (const id of ids) this.s.delayNotified.run(id);
    });
  }

  /** Deletes a message once none of its recipients is still queued; returns whether it did. */
  removeIfDone(messageId: string): boolean {
    return this.w(() => {
      if ((this.s.pendingCount.get(messageId) as number) > 0) return false;
      this.s.deleteMessage.run(messageId);
      return true;
    });
  }

  /** Messages in the queue, oldest first (the admin queue view). */
  list(limit = 500): QueuedMessage[] {
    return (this.s.list.all(limit) as Row[]).map(toMessage);
  }

  /** Makes every still-queued recipient of a message due now (admin "retry"); returns how many. */
  retryNow(messageId: string, now = Date.now()): number {
    const n = this.w(() => this.s.retryNow.run(now, now, messageId).changes);
    if (n > 0) for (const fn of this.listeners) fn();
    return n;
  }

  /** Deletes a message and its recipients whatever their state (admin "delete"); false when there was none. */
  remove(messageId: string): boolean {
    return this.w(() => this.s.deleteMessage.run(messageId).changes > 0);
  }

  /** Recipients still queued and when the oldest of their messages was queued (health, metrics). */
  depth(): { queued: number; oldestAt: number | null } {
    const r = this.s.depth.get() as { n: number; oldest: number | null };
    return { queued: r.n, oldestAt: r.oldest ?? null };
  }

  stats(): Record<RecipientState, number> {
    const out: Record<RecipientState, number> = { queued: 0, sent: 0, failed: 0 };
    for (const r of this.s.stats.all() as { state: RecipientState; n: number }[]) out[r.state] = r.n;
    return out;
  }
}
