/**
 * @module node/store/mailbox/dav
 * Calendars and address books with their objects, ETags and sync state
 * (RFC 6578): every change takes a modseq from the mailbox counter, deletions
 * leave tombstones, and a collection's sync token is its latest modseq.
 * Parsing and validation of iCalendar/vCard happen in node/dav before a call
 * here; this module stores text and the indexed fields it is given.
 */
import { createHash } from 'node:crypto';
import { ConflictError, MailboxExistsError, NotFoundError, QuotaExceededError, translateSqliteError } from '../errors.js';
import type { Statement } from 'better-sqlite3';
import type { MailboxContext } from './context.js';
import { RenderedCache, type RenderedPool } from './rendered.js';

export type CollectionKind = 'calendar' | 'addressbook';

export interface Collection {
  id: number;
  kind: CollectionKind;
  name: string;
  displayName: string | null;
  description: string | null;
  color: string | null;
  components: string[];
  timezone: string | null;
  props: Record<string, string>;
  modseq: number;
}

export interface DavObject {
  collectionId: number;
  name: string;
  uid: string;
  etag: string;
  component: string | null;
  data: string;
  firstStart: number | null;
  lastEnd: number | null;
  modseq: number;
  updatedAt: number;
  /** Bytes of data; set by objectMetas, where data is left out. */
  size?: number;
}

/** An object without its data: enough to find what was rendered from it (RenderedCache). */
export type DavObjectHead = Omit<DavObject, 'data' | 'size'>;

export interface PutObject {
  name: string;
  uid: string;
  data: string;
  component?: string | null;
  /** Time span covered (ms since epoch) for time-range prefiltering; null = unbounded. */
  firstStart?: number | null;
  lastEnd?: number | null;
  /** If-Match: the ETag the client saw; '*' = must exist. */
  ifMatch?: string;
  /** If-None-Match: '*' = must not exist. */
  ifNoneMatch?: string;
}

export class PreconditionFailedError extends ConflictError {}
/**
 * RFC 4791 §5.3.2.1 / RFC 6352 §6.3.2.1 no-uid-conflict: another object of
 * the collection has the UID, or the object being replaced has another one.
 */
export class UidConflictError extends ConflictError {
  constructor(
    readonly collectionId: number,
    readonly existingName: string,
    /** True when the object at the target name has another UID; false when another name has this one. */
    readonly replacing = false,
  ) {
    super(replacing ? `${existingName} holds another UID` : `another object in this collection already has this UID (${existingName})`);
  }
}

type Row = Record<string, unknown>;
const toCollection = (r: Row): Collection => ({
  id: r.id as number,
  kind: r.kind as CollectionKind,
  name: r.name as string,
  displayName: (r.display_name as string) ?? null,
  description: (r.description as string) ?? null,
  color: (r.color as string) ?? null,
  components: r.components ? (r.components as string).split(',') : [],
  timezone: (r.timezone as string) ?? null,
  props: JSON.parse(r.props as string),
  modseq: r.modseq as number,
});
const HEAD_COLUMNS = 'collection_id, name, uid, etag, component, first_start, last_end, modseq, updated_at';
const toHead = (r: Row): DavObjectHead => ({
  collectionId: r.collection_id as number,
  name: r.name as string,
  uid: r.uid as string,
  etag: r.etag as string,
  component: (r.component as string) ?? null,
  firstStart: (r.first_start as number) ?? null,
  lastEnd: (r.last_end as number) ?? null,
  modseq: r.modseq as number,
  updatedAt: r.updated_at as number,
});
const toObject = (r: Row): DavObject => ({
  collectionId: r.collection_id as number,
  name: r.name as string,
  uid: r.uid as string,
  etag: r.etag as string,
  component: (r.component as string) ?? null,
  data: r.data as string,
  firstStart: (r.first_start as number) ?? null,
  lastEnd: (r.last_end as number) ?? null,
  modseq: r.modseq as number,
  updatedAt: r.updated_at as number,
});

interface QueuedPut {
  collectionId: number;
  o: PutObject;
  origin?: string;
  resolve(r: { etag: string; created: boolean }): void;
  reject(err: unknown): void;
}

/** A PUT's own failure as the store's callers expect it (a full disk as DiskFullError, and so on). */
function asStoreError(err: unknown, path: string): unknown {
  try {
    translateSqliteError(err, path);
  } catch (e) {
    return e;
  }
}

export function etagOf(data: string): string {
  return '"' + createHash('sha256').update(data).digest('base64url').slice(0, 27) + '"';
}

export class DavRepo {
  quotaBytes = 0;
  /**
   * Text the DAV layer rendered from this mailbox's objects (REPORT
   * <response> fragments). Every write below drops the collection's entries,
   * whatever the keys say, so nothing rendered before a write outlives it.
   */
  readonly rendered: RenderedCache;
  /**
   * Collections by kind and name as last committed (every DAV request
   * resolves one): only this repository writes them, and every write clears it.
   */
  private readonly colCache = new Map<string, Collection | null>();
  constructor(
    private readonly ctx: MailboxContext,
    renderedCacheBytes = 0,
    renderedPool: RenderedPool | null = null,
  ) {
    this.rendered = new RenderedCache(renderedCacheBytes, renderedPool);
    this.savepoint = ctx.db.transaction((fn: () => { etag: string; created: boolean }) => fn());
  }

  collections(kind?: CollectionKind): Collection[] {
    // Every DAV request looks at the calendars (the iTIP marker): statements prepared once.
    const rows = kind
      ? this.stmt('collsOfKind', 'SELECT * FROM collections WHERE kind = ? ORDER BY name').all(kind)
      : this.stmt('colls', 'SELECT * FROM collections ORDER BY kind, name').all();
    return (rows as Row[]).map(toCollection);
  }

  collection(kind: CollectionKind, name: string): Collection | null {
    // Inside a transaction, what it wrote so far and nothing kept: it may yet be rolled back.
    const committed = !this.ctx.db.inTransaction;
    const k = `${kind}/${name}`;
    const kept = committed ? this.colCache.get(k) : undefined;
    if (kept !== undefined) return kept;
    const r = this.stmt('coll', 'SELECT * FROM collections WHERE kind = ? AND name = ?').get(kind, name) as Row | undefined;
    const col = r ? toCollection(r) : null;
    if (committed) {
      if (this.colCache.size >= 256) this.colCache.clear();
      this.colCache.set(k, col);
    }
    return col;
  }

  /**
   * Every write of this repository: collections read back afterwards come
   * from the database again (an object write moves its collection's modseq,
   * which is its ETag and sync token).
   */
  private write<T>(fn: () => T): T {
    try {
      return this.ctx.write(fn);
    } finally {
      this.colCache.clear();
    }
  }

  createCollection(kind: CollectionKind, name: string, p: Partial<Pick<Collection, 'displayName' | 'description' | 'color' | 'components' | 'timezone' | 'props'>> = {}): Collection {
    return this.write(() => {
      if (this.collection(kind, name)) throw new MailboxExistsError(`a ${kind} named "${name}" already exists`);
      // Collection ids of deleted collections can come back (SQLite rowids): start the new one clean.
      this.rendered.clear();
      const modseq = this.ctx.nextModseq();
      this.ctx.db
        .prepare('INSERT INTO collections(kind, name, display_name, description, color, components, timezone, props, modseq, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(kind, name, p.displayName ?? null, p.description ?? null, p.color ?? null, p.components?.join(',') ?? null, p.timezone ?? null, JSON.stringify(p.props ?? {}), modseq, Date.now());
      return this.collection(kind, name)!;
    });
  }

  updateCollection(id: number, p: Partial<Pick<Collection, 'displayName' | 'description' | 'color' | 'timezone' | 'props'>>): void {
    this.rendered.dropCollection(id);
    this.write(() => {
      const set = (col: string, v: unknown) => this.ctx.db.prepare(`UPDATE collections SET ${col} = ? WHERE id = ?`).run(v, id);
      if (p.displayName !== undefined) set('display_name', p.displayName);
      if (p.description !== undefined) set('description', p.description);
      if (p.color !== undefined) set('color', p.color);
      if (p.timezone !== undefined) set('timezone', p.timezone);
      if (p.props !== undefined) set('props', JSON.stringify(p.props));
    });
  }

  deleteCollection(id: number): void {
    this.rendered.dropCollection(id);
    this.write(() => {
      const size = this.ctx.db.prepare('SELECT coalesce(sum(length(data)), 0) FROM dav_objects WHERE collection_id = ?').pluck().get(id) as number;
      this.ctx.db.prepare('DELETE FROM collections WHERE id = ?').run(id);
      this.ctx.addUsage(-size);
    });
  }

  objects(collectionId: number, range?: { start: number; end: number }): DavObject[] {
    const rows = range
      ? this.stmt('inRange', 'SELECT * FROM dav_objects WHERE collection_id = ? AND (first_start IS NULL OR first_start < ?) AND (last_end IS NULL OR last_end > ?) ORDER BY name').all(collectionId, range.end, range.start)
      : this.stmt('all', 'SELECT * FROM dav_objects WHERE collection_id = ? ORDER BY name').all(collectionId);
    return (rows as Row[]).map(toObject);
  }

  /** The named objects of a collection in one query (a multiget), by name; names not stored are absent. */
  objectsNamed(collectionId: number, names: readonly string[]): Map<string, DavObject> {
    const out = new Map<string, DavObject>();
    if (names.length === 0) return out;
    const rows = this.stmt('named', 'SELECT * FROM dav_objects WHERE collection_id = ? AND name IN (SELECT value FROM json_each(?))').all(collectionId, JSON.stringify(names)) as Row[];
    for (const r of rows) out.set(r.name as string, toObject(r));
    return out;
  }

  /**
   * Every object of a collection without its data, by name: what a reply
   * answered from RenderedCache needs. Kept in that cache (when it is on) as
   * of the collection's modseq, read here in the same breath, so a list kept
   * before any write to the collection is never returned after it.
   */
  objectHeads(collectionId: number): DavObjectHead[] {
    const modseq = this.collectionModseq(collectionId);
    const kept = this.rendered.headsAt(collectionId, modseq);
    if (kept) return kept.list;
    const list = (this.stmt('heads', `SELECT ${HEAD_COLUMNS} FROM dav_objects WHERE collection_id = ? ORDER BY name`).all(collectionId) as Row[]).map(toHead);
    if (this.rendered.maxBytes > 0 && !this.ctx.db.inTransaction) this.rendered.setHeads(collectionId, modseq, list);
    return list;
  }

  /** The named objects of a collection without their data, by name; names not stored are absent. */
  headsNamed(collectionId: number, names: readonly string[]): Map<string, DavObjectHead> {
    const out = new Map<string, DavObjectHead>();
    if (names.length === 0) return out;
    const modseq = this.collectionModseq(collectionId);
    let kept = this.rendered.headsAt(collectionId, modseq);
    // Read twice at the same modseq: keep the whole list for the reads that follow.
    if (!kept && this.rendered.maxBytes > 0 && this.rendered.readAgain(collectionId, modseq)) {
      this.objectHeads(collectionId);
      kept = this.rendered.headsAt(collectionId, modseq);
    }
    if (kept) {
      for (const n of names) {
        const h = kept.byName.get(n);
        if (h) out.set(n, h);
      }
      return out;
    }
    const rows = this.stmt('headsNamed', `SELECT ${HEAD_COLUMNS} FROM dav_objects WHERE collection_id = ? AND name IN (SELECT value FROM json_each(?))`).all(collectionId, JSON.stringify(names)) as Row[];
    for (const r of rows) out.set(r.name as string, toHead(r));
    return out;
  }

  private collectionModseq(collectionId: number): number {
    return (this.stmt('collModseq', 'SELECT modseq FROM collections WHERE id = ?').pluck().get(collectionId) as number | undefined) ?? -1;
  }

  object(collectionId: number, name: string): DavObject | null {
    const r = this.stmt('byName', 'SELECT * FROM dav_objects WHERE collection_id = ? AND name = ?').get(collectionId, name) as Row | undefined;
    return r ? toObject(r) : null;
  }

  objectByUid(collectionId: number, uid: string): DavObject | null {
    const r = this.stmt('byUid', 'SELECT * FROM dav_objects WHERE collection_id = ? AND uid = ?').get(collectionId, uid) as Row | undefined;
    return r ? toObject(r) : null;
  }

  /** PUT with If-Match / If-None-Match; returns the new ETag and whether it was created. */
  put(collectionId: number, o: PutObject, origin?: string): { etag: string; created: boolean } {
    return this.write(() => this.putTx(collectionId, o, origin));
  }

  /**
   * PUT for the DAV server: the PUTs that reach the store in one turn of the
   * event loop (several clients syncing at once) commit in one transaction,
   * each in a savepoint of its own, so one's failed precondition or UID
   * conflict rejects that PUT alone. One commit writes the collection's and
   * the counters' pages once rather than per PUT (about 26 KB of WAL per PUT
   * alone, 3.4 KB each in tens: less to encrypt, write and replicate), and it
   * is fsynced off the event loop (ctx.writeDeferred), the PUTs that arrive
   * meanwhile sharing the next. Resolves, or rejects with the PUT's own
   * error, once the commit is durable: the caller acknowledges only then.
   */
  putQueued(collectionId: number, o: PutObject, origin?: string): Promise<{ etag: string; created: boolean }> {
    return new Promise((resolve, reject) => {
      this.putQueue.push({ collectionId, o, origin, resolve, reject });
      // setImmediate, not a microtask: the requests whose bytes arrived in the same poll get in too.
      if (this.putQueue.length === 1) setImmediate(() => this.flushPuts());
    });
  }

  private putQueue: QueuedPut[] = [];
  /** Runs its argument in a savepoint when called inside a transaction (better-sqlite3 nests that way). */
  private readonly savepoint: (fn: () => { etag: string; created: boolean }) => { etag: string; created: boolean };

  private flushPuts(): void {
    const batch = this.putQueue;
    this.putQueue = [];
    const outcomes: ({ ok: true; r: { etag: string; created: boolean } } | { ok: false; err: unknown })[] = [];
    let durable: Promise<void>;
    try {
      durable = this.ctx.writeDeferred(() => {
        for (const p of batch) {
          try {
            outcomes.push({ ok: true, r: this.savepoint(() => this.putTx(p.collectionId, p.o, p.origin)) });
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
      }).durable;
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    } finally {
      this.colCache.clear();
    }
    // Refusals wait too: what they were judged against (an earlier PUT of the batch) is durable only now.
    durable.then(
      () =>
        batch.forEach((p, i) => {
          const out = outcomes[i];
          if (out.ok) p.resolve(out.r);
          else p.reject(asStoreError(out.err, this.ctx.path));
        }),
      (err) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  delete(collectionId: number, name: string, ifMatch?: string, origin?: string): void {
    this.write(() => this.deleteTx(collectionId, name, ifMatch, origin));
  }

  /** delete with its commit fsynced off the event loop (ctx.writeDeferred): acknowledge once `durable` resolves. */
  deleteDeferred(collectionId: number, name: string, ifMatch?: string, origin?: string): { durable: Promise<void> } {
    try {
      return { durable: this.ctx.writeDeferred(() => this.deleteTx(collectionId, name, ifMatch, origin)).durable };
    } finally {
      this.colCache.clear();
    }
  }

  /**
   * MOVE of one object, in one transaction: the destination is written (with
   * its own preconditions) and the source deleted, or neither.
   */
  move(
    from: { collectionId: number; name: string; ifMatch?: string },
    to: { collectionId: number; name: string; overwrite: boolean },
    origin?: string,
  ): { etag: string; created: boolean } {
    return this.write(() => {
      const src = this.object(from.collectionId, from.name);
      if (!src) throw new NotFoundError(`no object named ${from.name}`);
      if (from.ifMatch && from.ifMatch !== '*' && from.ifMatch !== src.etag) throw new PreconditionFailedError('the object changed since you read it (If-Match)');
      if (from.collectionId === to.collectionId && from.name === to.name) throw new ConflictError('source and destination are the same resource');
      // Same collection: the UID moves with the object, so drop the source first.
      if (from.collectionId === to.collectionId) this.deleteTx(from.collectionId, from.name, undefined, origin);
      const r = this.putTx(
        to.collectionId,
        { name: to.name, uid: src.uid, data: src.data, component: src.component, firstStart: src.firstStart, lastEnd: src.lastEnd, ifNoneMatch: to.overwrite ? undefined : '*' },
        origin,
      );
      if (from.collectionId !== to.collectionId) this.deleteTx(from.collectionId, from.name, undefined, origin);
      return r;
    });
  }

  /** Names, ETags and types without the data: PROPFIND Depth 1 over a large collection. */
  objectMetas(collectionId: number): Omit<DavObject, 'data'>[] {
    const rows = this.stmt('metas', 'SELECT collection_id, name, uid, etag, component, length(CAST(data AS BLOB)) AS size, first_start, last_end, modseq, updated_at FROM dav_objects WHERE collection_id = ? ORDER BY name').all(collectionId) as Row[];
    return rows.map((r) => ({ ...toObject({ ...r, data: '' }), size: r.size as number }));
  }

  private readonly stmts = new Map<string, Statement<unknown[]>>();
  private stmt(key: string, sql: string): Statement<unknown[]> {
    let s = this.stmts.get(key);
    if (!s) {
      s = this.ctx.db.prepare(sql);
      this.stmts.set(key, s);
    }
    return s;
  }

  private putTx(collectionId: number, o: PutObject, origin?: string): { etag: string; created: boolean } {
    const existing = this.object(collectionId, o.name);
    if (o.ifNoneMatch === '*' && existing) throw new PreconditionFailedError('the object already exists (If-None-Match: *)');
    if (o.ifNoneMatch && o.ifNoneMatch !== '*' && existing && o.ifNoneMatch === existing.etag) throw new PreconditionFailedError('the object still has that ETag (If-None-Match)');
    if (o.ifMatch && (!existing || (o.ifMatch !== '*' && o.ifMatch !== existing.etag))) throw new PreconditionFailedError('the object changed since you read it (If-Match)');
    // An object keeps its UID for life: a new UID is a new object, under a new name.
    if (existing && existing.uid !== o.uid) throw new UidConflictError(collectionId, existing.name, true);
    const sameUid = this.objectByUid(collectionId, o.uid);
    if (sameUid && sameUid.name !== o.name) throw new UidConflictError(collectionId, sameUid.name);
    const delta = o.data.length - (existing?.data.length ?? 0);
    if (this.quotaBytes > 0 && delta > 0 && this.ctx.meta('used_bytes') + delta > this.quotaBytes) throw new QuotaExceededError(this.ctx.meta('used_bytes'), this.quotaBytes);
    this.rendered.dropCollection(collectionId);
    const modseq = this.ctx.nextModseq();
    const etag = etagOf(o.data);
    const now = Date.now();
    if (existing) {
      this.stmt('update', 'UPDATE dav_objects SET uid = ?, etag = ?, component = ?, data = ?, first_start = ?, last_end = ?, modseq = ?, updated_at = ? WHERE collection_id = ? AND name = ?')
        .run(o.uid, etag, o.component ?? null, o.data, o.firstStart ?? null, o.lastEnd ?? null, modseq, now, collectionId, o.name);
    } else {
      this.stmt('insert', 'INSERT INTO dav_objects(collection_id, name, uid, etag, component, data, first_start, last_end, modseq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(collectionId, o.name, o.uid, etag, o.component ?? null, o.data, o.firstStart ?? null, o.lastEnd ?? null, modseq, now, now);
      this.stmt('untomb', 'DELETE FROM dav_tombstones WHERE collection_id = ? AND name = ?').run(collectionId, o.name);
    }
    this.ctx.addUsage(delta);
    this.stmt('bump', 'UPDATE collections SET modseq = ? WHERE id = ?').run(modseq, collectionId);
    this.ctx.emit({ type: 'dav', collectionId, modseq, origin });
    return { etag, created: !existing };
  }

  private deleteTx(collectionId: number, name: string, ifMatch?: string, origin?: string): void {
    const existing = this.object(collectionId, name);
    if (!existing) throw new NotFoundError(`no object named ${name}`);
    if (ifMatch && ifMatch !== '*' && ifMatch !== existing.etag) throw new PreconditionFailedError('the object changed since you read it (If-Match)');
    this.rendered.dropCollection(collectionId);
    const modseq = this.ctx.nextModseq();
    this.stmt('del', 'DELETE FROM dav_objects WHERE collection_id = ? AND name = ?').run(collectionId, name);
    this.stmt('tomb', 'INSERT OR REPLACE INTO dav_tombstones(collection_id, name, modseq) VALUES (?, ?, ?)').run(collectionId, name, modseq);
    this.ctx.addUsage(-existing.data.length);
    this.stmt('bump', 'UPDATE collections SET modseq = ? WHERE id = ?').run(modseq, collectionId);
    this.ctx.emit({ type: 'dav', collectionId, modseq, origin });
  }

  /** sync-collection: objects changed and names deleted after `since`. */
  changesSince(collectionId: number, since: number): { changed: DavObject[]; deleted: string[]; modseq: number } {
    const changed = (this.ctx.db.prepare('SELECT * FROM dav_objects WHERE collection_id = ? AND modseq > ? ORDER BY modseq').all(collectionId, since) as Row[]).map(toObject);
    const deleted = this.ctx.db.prepare('SELECT name FROM dav_tombstones WHERE collection_id = ? AND modseq > ? ORDER BY modseq').pluck().all(collectionId, since) as string[];
    const modseq = this.ctx.db.prepare('SELECT modseq FROM collections WHERE id = ?').pluck().get(collectionId) as number;
    return { changed, deleted, modseq };
  }

  ensureDefaults(): void {
    if (this.collections().length > 0) return;
    this.createCollection('calendar', 'default', { displayName: 'Calendar', components: ['VEVENT'] });
    this.createCollection('calendar', 'tasks', { displayName: 'Tasks', components: ['VTODO'] });
    this.createCollection('addressbook', 'default', { displayName: 'Contacts' });
  }
}
