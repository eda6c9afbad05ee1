/**
 * @module node/store/mailbox/folders
 * Folders (IMAP mailboxes): names with '/' as the hierarchy separator, INBOX
 * case-insensitive, UIDVALIDITY fixed at creation and never reused (a
 * recreated folder gets a new one), special-use attributes (RFC 6154), and
 * subscriptions, which outlive the folder they name (RFC 9051 §6.3.7: a
 * server must not drop a name from the subscription list because the
 * mailbox is gone): a deleted folder's subscription is kept in meta under
 * `sub:<name>` until UNSUBSCRIBE, or until a folder of that name exists again.
 */
import { InvalidNameError, MailboxExistsError, NoSuchMailboxError } from '../errors.js';
import type { MailboxContext } from './context.js';

export const SEPARATOR = '/';

export interface Folder {
  id: number;
  name: string;
  specialUse: string | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  subscribed: boolean;
}

export interface FolderStatus {
  messages: number;
  unseen: number;
  deleted: number;
  size: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
}

export const DEFAULT_FOLDERS: { name: string; specialUse: string | null }[] = [
  { name: 'INBOX', specialUse: null },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Archive', specialUse: '\\Archive' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Trash', specialUse: '\\Trash' },
];

const SPECIAL_USES = new Set(['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash']);

type Row = Record<string, unknown>;
const toFolder = (r: Row): Folder => ({
  id: r.id as number,
  name: r.name as string,
  specialUse: (r.special_use as string) ?? null,
  uidValidity: r.uidvalidity as number,
  uidNext: r.uidnext as number,
  highestModseq: r.highestmodseq as number,
  subscribed: r.subscribed === 1,
});

/** INBOX is case-insensitive; everything else is matched exactly. */
export function canonicalName(name: string): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.toUpperCase().startsWith('INBOX' + SEPARATOR)) return 'INBOX' + name.slice(5);
  return name;
}

function validateName(name: string): string {
  const n = canonicalName(name);
  if (!n || n.length > 512 || n.startsWith(SEPARATOR) || n.endsWith(SEPARATOR) || n.includes(SEPARATOR + SEPARATOR) || /[\x00-\x1f\x7f*%]/.test(n)) {
    throw new InvalidNameError(`"${name}" is not a valid folder name`);
  }
  return n;
}

export class FolderRepo {
  private readonly s;

  constructor(private readonly ctx: MailboxContext) {
    const p = (sql: string) => ctx.db.prepare(sql);
    this.s = {
      byName: p('SELECT * FROM folders WHERE name = ?'),
      byId: p('SELECT * FROM folders WHERE id = ?'),
      all: p('SELECT * FROM folders ORDER BY name'),
      insert: p('INSERT INTO folders(name, special_use, uidvalidity, created_at) VALUES (?, ?, ?, ?)'),
      orphans: p("SELECT substr(key, 5) FROM meta WHERE key LIKE 'sub:%' ORDER BY key").pluck(),
      orphanGet: p('SELECT 1 FROM meta WHERE key = ?').pluck(),
      orphanPut: p('INSERT OR IGNORE INTO meta(key, value) VALUES (?, 1)'),
      orphanDrop: p('DELETE FROM meta WHERE key = ?'),
      status: p(
        `SELECT count(*) AS messages, coalesce(sum((flags & 1) = 0), 0) AS unseen, coalesce(sum((flags & 8) != 0), 0) AS deleted,
                coalesce(sum(size), 0) AS size FROM messages WHERE folder_id = ?`,
      ),
    };
  }

  list(): Folder[] {
    return (this.s.all.all() as Row[]).map(toFolder);
  }

  /** Subscribed names with no folder (deleted after they were subscribed), sorted. */
  orphanSubscriptions(): string[] {
    return (this.s.orphans.all() as string[]).filter((n) => !this.s.byName.get(n));
  }

  get(name: string): Folder | null {
    const r = this.s.byName.get(canonicalName(name)) as Row | undefined;
    return r ? toFolder(r) : null;
  }

  require(name: string): Folder {
    const f = this.get(name);
    if (!f) throw new NoSuchMailboxError(`no folder named "${name}"`);
    return f;
  }

  byId(id: number): Folder | null {
    const r = this.s.byId.get(id) as Row | undefined;
    return r ? toFolder(r) : null;
  }

  /** UIDVALIDITY: seconds since epoch at creation, bumped so no two folders (or a recreated one) share it. */
  private nextUidValidity(): number {
    const v = Math.max(Math.floor(Date.now() / 1000), this.ctx.meta('next_uidvalidity'));
    this.ctx.setMetaValue('next_uidvalidity', v + 1);
    return v;
  }

  /** Creates a folder and any missing parents (RFC 9051 §6.3.4). */
  create(name: string, specialUse: string | null = null): Folder {
    const n = validateName(name);
    if (specialUse && !SPECIAL_USES.has(specialUse)) throw new InvalidNameError(`${specialUse} is not a special-use attribute this server supports`);
    return this.ctx.write(() => {
      if (this.s.byName.get(n)) throw new MailboxExistsError(`folder "${n}" already exists`);
      const parts = n.split(SEPARATOR);
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join(SEPARATOR);
        if (!this.s.byName.get(parent)) this.s.insert.run(parent, null, this.nextUidValidity(), Date.now());
      }
      this.s.insert.run(n, specialUse, this.nextUidValidity(), Date.now());
      this.s.orphanDrop.run('sub:' + n);
      this.ctx.emit({ type: 'folders' });
      return toFolder(this.s.byName.get(n) as Row);
    });
  }

  ensureDefaults(): void {
    const missing = DEFAULT_FOLDERS.filter((f) => !this.s.byName.get(f.name));
    if (missing.length === 0) return;
    this.ctx.write(() => {
      for (const f of missing) this.s.insert.run(f.name, f.specialUse, this.nextUidValidity(), Date.now());
    });
  }

  /** Deletes a folder and its messages. Children stay (RFC 9051 §6.3.5). */
  delete(name: string): void {
    const n = canonicalName(name);
    if (n === 'INBOX') throw new InvalidNameError('INBOX cannot be deleted');
    this.ctx.write(() => {
      const f = this.require(n);
      const blobs = this.ctx.db.prepare('SELECT blob_id FROM messages WHERE folder_id = ?').pluck().all(f.id) as number[];
      this.ctx.db.prepare('DELETE FROM messages WHERE folder_id = ?').run(f.id);
      this.ctx.db.prepare('DELETE FROM expunged WHERE folder_id = ?').run(f.id);
      this.ctx.db.prepare('DELETE FROM folders WHERE id = ?').run(f.id);
      // A stale key (from a folder that came back unsubscribed by another path) must not outlive this one either.
      if (f.subscribed) this.s.orphanPut.run('sub:' + f.name);
      else this.s.orphanDrop.run('sub:' + f.name);
      releaseBlobs(this.ctx, blobs);
      this.ctx.emit({ type: 'folders' });
    });
  }

  /** Renames a folder with its children; renaming INBOX moves its messages to a new folder (RFC 9051 §6.3.6). */
  rename(from: string, to: string): Folder {
    const src = canonicalName(from);
    const dst = validateName(to);
    return this.ctx.write(() => {
      const f = this.require(src);
      if (this.s.byName.get(dst)) throw new MailboxExistsError(`folder "${dst}" already exists`);
      if (src === 'INBOX') {
        const created = this.create(dst);
        const rows = this.ctx.db.prepare('SELECT id FROM messages WHERE folder_id = ? ORDER BY uid').pluck().all(f.id) as number[];
        const take = this.ctx.db.prepare('UPDATE messages SET folder_id = ?, uid = ?, modseq = ? WHERE id = ?');
        let uid = created.uidNext;
        const modseq = this.ctx.nextModseq();
        for (const id of rows) take.run(created.id, uid++, modseq, id);
        this.ctx.db.prepare('UPDATE folders SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(uid, modseq, created.id);
        this.ctx.db.prepare('UPDATE folders SET highestmodseq = ? WHERE id = ?').run(modseq, f.id);
        this.ctx.emit({ type: 'expunge', folderId: f.id, uids: [], modseq });
        return toFolder(this.s.byId.get(created.id) as Row);
      }
      const parts = dst.split(SEPARATOR);
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join(SEPARATOR);
        if (!this.s.byName.get(parent)) this.s.insert.run(parent, null, this.nextUidValidity(), Date.now());
      }
      const children = this.ctx.db.prepare('SELECT id, name FROM folders WHERE name = ? OR name LIKE ? ESCAPE \'\\\'').all(src, likePrefix(src + SEPARATOR)) as Row[];
      const upd = this.ctx.db.prepare('UPDATE folders SET name = ? WHERE id = ?');
      for (const c of children) {
        const name = dst + (c.name as string).slice(src.length);
        upd.run(name, c.id);
        this.s.orphanDrop.run('sub:' + name);
      }
      this.ctx.emit({ type: 'folders' });
      return toFolder(this.s.byId.get(f.id) as Row);
    });
  }

  setSubscribed(name: string, subscribed: boolean): void {
    this.ctx.write(() => {
      const f = this.get(name);
      if (!f) {
        // A name subscribed before its folder went: it can still be unsubscribed (RFC 9051 §6.3.8).
        const key = 'sub:' + canonicalName(name);
        if (subscribed || !this.s.orphanGet.get(key)) throw new NoSuchMailboxError(`no folder named "${name}"`);
        this.s.orphanDrop.run(key);
        this.ctx.emit({ type: 'folders' });
        return;
      }
      this.ctx.db.prepare('UPDATE folders SET subscribed = ? WHERE id = ?').run(subscribed ? 1 : 0, f.id);
      this.ctx.emit({ type: 'folders' }); // IMAP NOTIFY SubscriptionChange
    });
  }

  setSpecialUse(name: string, specialUse: string | null): void {
    if (specialUse && !SPECIAL_USES.has(specialUse)) throw new InvalidNameError(`${specialUse} is not a special-use attribute this server supports`);
    this.ctx.write(() => {
      const f = this.require(name);
      this.ctx.db.prepare('UPDATE folders SET special_use = ? WHERE id = ?').run(specialUse, f.id);
    });
  }

  status(folderId: number): FolderStatus {
    const f = this.byId(folderId);
    if (!f) throw new NoSuchMailboxError('folder no longer exists');
    const r = this.s.status.get(folderId) as Row;
    return {
      messages: r.messages as number,
      unseen: r.unseen as number,
      deleted: r.deleted as number,
      size: r.size as number,
      uidNext: f.uidNext,
      uidValidity: f.uidValidity,
      highestModseq: f.highestModseq,
    };
  }
}

function likePrefix(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}

/**
 * Drops one reference from each blob; a blob with none left is deleted with
 * its envelope and, if the indexer wrote one (search.ts: ids above
 * fts_backfill up to fts_indexed), its index entry. A message deleted before
 * the indexer reached it has no entry, and the indexer never sees it.
 */
export function releaseBlobs(ctx: MailboxContext, blobIds: number[]): void {
  const dec = ctx.db.prepare('UPDATE blobs SET refs = refs - 1 WHERE id = ? RETURNING refs, size');
  const del = ctx.db.prepare('DELETE FROM blobs WHERE id = ?');
  const delFts = ctx.db.prepare('DELETE FROM fts WHERE rowid = ?');
  const delEnvelope = ctx.db.prepare('DELETE FROM envelopes WHERE blob_id = ?');
  const indexedAbove = ctx.meta('fts_backfill');
  const indexedTo = ctx.meta('fts_indexed');
  const freed: number[] = [];
  for (const id of blobIds) {
    const r = dec.get(id) as { refs: number; size: number } | undefined;
    if (r && r.refs <= 0) {
      del.run(id);
      if (id > indexedAbove && id <= indexedTo) delFts.run(id);
      delEnvelope.run(id);
      ctx.addUsage(-r.size);
      freed.push(id);
    }
  }
  if (freed.length) ctx.afterCommit(() => freed.forEach((id) => ctx.pendingText.drop(id)));
}
