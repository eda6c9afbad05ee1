/**
 * @module node/store/directory/read-cache
 * Directory rows the MX reads for every RCPT and every delivery (the
 * recipient's domain, account and aliases, its Sieve scripts), kept in memory
 * for as long as the database provably has not changed, so a row is read
 * once rather than three or four times per message.
 *
 * Never stale, by two counters SQLite keeps per connection:
 * - `total_changes()` counts every row this connection inserted, updated or
 *   deleted (foreign-key cascades included). It is read on every lookup (no
 *   read transaction, well under a microsecond), so any write of the node's
 *   own (directory, queue, Sieve memory, usage) empties the cache, whatever
 *   code path made it.
 * - `PRAGMA data_version` changes when *another* connection committed (a CLI
 *   or a test opening the file directly). Asking opens a read transaction, a
 *   few microseconds, so it is asked once per turn of the event loop: every
 *   lookup of one synchronous run then answers as of that run's first one,
 *   exactly what a read at that moment would have seen, and the next RCPT or
 *   delivery (a later turn) asks again.
 * Inside a transaction the cache is bypassed: rows read there may yet be
 * rolled back.
 *
 * Bounded: at most `maxEntries` values (least recently used go first).
 * Values are shared, so the directory freezes what it puts here.
 */
import type { Db } from '../db.js';

/** An account row held twice (by id and by address) measured about 0.9 KB an entry: about 7 MB when full, enough for every row a thousand busy accounts read. */
export const DEFAULT_MAX_ENTRIES = 8192;

export class ReadCache {
  private readonly entries = new Map<string, unknown>();
  private readonly changes;
  private readonly version;
  private seenChanges = -1;
  private seenVersion = -1;
  /** data_version was asked in this turn of the event loop. */
  private askedThisTurn = false;
  private readonly endTurn = () => {
    this.askedThisTurn = false;
  };

  constructor(
    private readonly db: Db,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {
    this.changes = db.prepare('SELECT total_changes()').pluck();
    this.version = db.prepare('PRAGMA data_version').pluck();
  }

  /** The cached value under (kind, key), or what `load` reads (and is kept when the database is quiet). */
  get<T>(kind: string, key: string, load: () => T): T {
    if (this.db.inTransaction || !this.db.open) return load();
    this.validate();
    const k = `${kind}\0${key}`;
    if (this.entries.has(k)) {
      const v = this.entries.get(k) as T;
      // Most recently used last: eviction takes from the head.
      this.entries.delete(k);
      this.entries.set(k, v);
      return v;
    }
    const v = load();
    this.entries.set(k, v);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return v;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Empties the cache when this connection or another one changed the database since the last look. */
  private validate(): void {
    const changes = this.changes.get() as number;
    if (changes !== this.seenChanges) {
      this.seenChanges = changes;
      this.entries.clear();
    }
    if (this.askedThisTurn) return;
    this.askedThisTurn = true;
    queueMicrotask(this.endTurn);
    const version = this.version.get() as number;
    if (version !== this.seenVersion) {
      this.seenVersion = version;
      this.entries.clear();
    }
  }
}
