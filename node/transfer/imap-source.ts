/**
 * @module node/transfer/imap-source
 * Another IMAP server as an import source, through imapflow. Per folder
 * (imap-folders.ts decides which and where): SELECT read-only so the source
 * keeps its \Seen flags, list the UIDs and sizes, skip what an earlier run
 * finished (same UIDVALIDITY, UID at or below the cursor; RFC 3501 §2.3.1.1:
 * a new UIDVALIDITY means the old UIDs mean nothing, so the folder starts
 * over and the import keys drop what is already there), then FETCH in
 * chunks of bounded size so memory holds a chunk, never a folder. A lost
 * connection is retried with backoff from the last UID handed on.
 *
 * With `concurrency` N, N connections read different folders at once; their
 * chunks are handed on one at a time through a single queue, each with its
 * folder, so the job still writes one folder's batch at a time (and its rate
 * limit paces the whole import). A connection waits until its chunk is taken
 * before handing on the next: memory holds about two chunks per connection.
 * Gmail's \All folder, which takes only what no label had, starts once
 * every other folder has been handed on.
 */
import { createHash } from 'node:crypto';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { backoffMs } from '../util/backoff.js';
import { planFolders, type FolderPlan } from './imap-folders.js';
import type { IncomingMessage } from './sink.js';
import type { ImportSource, SourceContext, SourceEvent } from './source.js';

export interface ImapSourceOptions {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password: string;
  /** Accept a certificate no CA vouches for (a test server, a self-signed old box). */
  insecure?: boolean;
  /** Most messages and bytes per FETCH. */
  chunkMessages?: number;
  chunkBytes?: number;
  /** Reconnects per folder before the import fails. */
  retries?: number;
  /** Only these source folders (paths as the server lists them). */
  folders?: string[];
  /** Connections reading folders in parallel (default 1). */
  concurrency?: number;
}

const RETRYABLE = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'NoConnection', 'ClosedAfterConnectTLS', 'ClosedAfterConnectText', 'EConnectionClosed']);

function retryable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code && RETRYABLE.has(e.code)) return true;
  return /connection (not available|closed)|socket|ECONNRESET|Connection not available/i.test(e?.message ?? '');
}

export function imapSource(o: ImapSourceOptions): ImportSource {
  const id = `imap://${o.user}@${o.host}:${o.port}`;
  const cursorKey = (path: string) => createHash('sha256').update('haven-import-cursor-v1\0').update(id).update('\0').update(path).digest();
  const connect = async (): Promise<ImapFlow> => {
    const opts: ImapFlowOptions = { host: o.host, port: o.port, secure: o.secure, auth: { user: o.user, pass: o.password }, logger: false, tls: { rejectUnauthorized: !o.insecure }, disableAutoIdle: true };
    const c = new ImapFlow(opts);
    c.on('error', () => undefined);
    try {
      await c.connect();
    } catch (err) {
      const e = err as { authenticationFailed?: boolean; code?: string; message?: string; responseText?: string };
      if (e.authenticationFailed) throw new Error(`${o.host} refused the login of ${o.user}${e.responseText ? ` (${e.responseText})` : ''}: check the source password (Gmail and Fastmail want an app password)`);
      if (e.code && RETRYABLE.has(e.code)) throw err;
      throw new Error(`could not open an IMAP session with ${o.host}:${o.port}: ${e.message ?? String(err)}`);
    }
    return c;
  };

  return async function* (ctx: SourceContext): AsyncIterable<SourceEvent> {
    const first = await connect();
    const clients: ImapFlow[] = [first];
    const stop = new AbortController();
    const ended = () => stop.signal.aborted || ctx.signal.aborted;
    try {
      const listed = await first.list({ statusQuery: { messages: true } });
      let plan = planFolders(listed.map((l) => ({ path: l.path, delimiter: l.delimiter, flags: [...l.flags], specialUse: l.specialUse ?? null })));
      if (o.folders) plan = plan.filter((p) => o.folders!.includes(p.path));
      yield { type: 'total', messages: listed.filter((l) => plan.some((p) => p.path === l.path)).reduce((n, l) => n + (l.status?.messages ?? 0), 0), bytes: null };
      const queue = new HandOff<Unit>();
      /** Reads folders off `todo` until none is left, handing their chunks on. */
      const worker = async (slot: number, todo: FolderPlan[]) => {
        for (let folder = todo.shift(); folder && !ended(); folder = todo.shift()) {
          let failures = 0;
          let after = -1;
          const ev = folderEvent(folder, cursorKey(folder.path));
          for (;;) {
            try {
              if (!clients[slot]) {
                const c = await connect();
                // The import ended while this connection opened: nothing will close it but us.
                if (ended()) return void (await c.logout().catch(() => c.close()));
                clients[slot] = c;
              }
              for await (const chunk of folderChunks(clients[slot], folder, after, ctx, ev, o)) {
                if (ended()) return;
                if (chunk.length) after = chunk[chunk.length - 1].uid!;
                await queue.put({ folder: ev, msgs: chunk }, stop.signal);
              }
              break;
            } catch (err) {
              if (!retryable(err) || ++failures > (o.retries ?? 5) || ended()) throw err;
              ctx.retried();
              await new Promise((r) => setTimeout(r, backoffMs(failures, 500, 15_000)));
              await clients[slot]?.logout().catch(() => undefined);
              delete clients[slot];
            }
          }
        }
      };
      const pool = async (folders: FolderPlan[]) => {
        const todo = [...folders];
        const n = Math.max(1, Math.min(o.concurrency ?? 1, todo.length));
        await Promise.all(Array.from({ length: n }, (_, slot) => worker(slot, todo)));
      };
      // Labels and folders first, then \All (skip-if-anywhere) alone: it must see every other folder written.
      const run = (async () => {
        await pool(plan.filter((f) => f.policy !== 'skip-if-anywhere'));
        await pool(plan.filter((f) => f.policy === 'skip-if-anywhere'));
      })().then(
        () => queue.close(),
        (err: unknown) => queue.close(err),
      );
      let last: SourceEvent | null = null;
      for (let u = await queue.take(); u; u = await queue.take()) {
        // A folder is announced when the stream turns to it, so each batch the job writes is one folder's.
        if (u.folder !== last) yield (last = u.folder);
        for (const msg of u.msgs) yield { type: 'message', msg };
      }
      await run;
    } finally {
      stop.abort();
      await Promise.all(clients.map((c) => c?.logout().catch(() => c.close())));
    }
  };
}

type FolderEvent = Extract<SourceEvent, { type: 'folder' }>;
interface Unit {
  folder: FolderEvent;
  msgs: IncomingMessage[];
}

function folderEvent(folder: FolderPlan, key: Buffer): FolderEvent {
  // UIDVALIDITY is filled in when the folder is opened (folderChunks), before any of its chunks is handed on.
  return { type: 'folder', name: folder.name, specialUse: folder.specialUse, policy: folder.policy, cursor: { source: key, uidValidity: 0 } };
}

/**
 * Many producers, one consumer: `put` resolves once the consumer has taken
 * the item, so a producer holds one item waiting at most; `close` ends the
 * stream (with an error, the consumer's `take` throws it).
 */
class HandOff<T> {
  private waiting: { item: T; taken: () => void }[] = [];
  private wake: (() => void) | null = null;
  private done: { err?: unknown } | null = null;

  put(item: T, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push({ item, taken: () => (signal.removeEventListener('abort', onAbort), resolve()) });
      this.wake?.();
    });
  }

  close(err?: unknown): void {
    this.done = err === undefined ? {} : { err };
    this.wake?.();
  }

  async take(): Promise<T | null> {
    for (;;) {
      const w = this.waiting.shift();
      if (w) {
        w.taken();
        return w.item;
      }
      if (this.done) {
        if ('err' in this.done) throw this.done.err;
        return null;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}

/** A folder's messages past the cursor, in chunks in UID order; the next chunk is fetched while this one is handed on. */
async function* folderChunks(client: ImapFlow, folder: FolderPlan, after: number, ctx: SourceContext, ev: FolderEvent, o: ImapSourceOptions): AsyncIterable<IncomingMessage[]> {
  const box = await client.mailboxOpen(folder.path, { readOnly: true });
  const uidValidity = Number(box.uidValidity);
  ev.cursor!.uidValidity = uidValidity;
  const cur = ctx.cursor(ev.cursor!.source);
  const done = Math.max(after, cur && cur.uidValidity === uidValidity ? cur.lastUid : 0);
  // An empty folder is still handed on (empty), so it is made in the account.
  if (box.exists === 0) return yield [];
  // UIDs and sizes first (a few bytes each), so FETCH can go in chunks of bounded bytes.
  const sizes: { uid: number; size: number }[] = [];
  for await (const m of client.fetch(`${done + 1}:*`, { uid: true, size: true }, { uid: true })) if (m.uid > done) sizes.push({ uid: m.uid, size: m.size ?? 0 });
  sizes.sort((a, b) => a.uid - b.uid);
  const maxN = o.chunkMessages ?? 100;
  const maxB = o.chunkBytes ?? 2 * 1024 * 1024;
  // Chunks by count and bytes, 2 MB (haven import of 100 MB in 200 KB messages, bench/import.ts: peak RSS 167 MB with 2 MB chunks and batches, 178 MB with 1 MB; with 4 MB the in-process bench peaked 117 MB above its start). The next chunk's FETCH is asked for while this one is handed on.
  const chunks: number[][] = [];
  for (let i = 0; i < sizes.length; ) {
    let j = i;
    let bytes = 0;
    while (j < sizes.length && j - i < maxN && (j === i || bytes + sizes[j].size <= maxB)) bytes += sizes[j++].size;
    chunks.push(sizes.slice(i, j).map((s) => s.uid));
    i = j;
  }
  const fetchChunk = async (uids: number[]) => {
    const got: { uid: number; raw: Buffer; flags: string[]; internalDate: number | null }[] = [];
    for await (const m of client.fetch(uids.join(','), { uid: true, flags: true, internalDate: true, source: true }, { uid: true })) {
      if (!m.source) continue;
      got.push({ uid: m.uid, raw: m.source, flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent'), internalDate: m.internalDate ? new Date(m.internalDate).getTime() : null });
    }
    return got.sort((a, b) => a.uid - b.uid);
  };
  // Nothing new (a resumed folder): still handed on, as the folder's announcement.
  if (!chunks.length) return yield [];
  let next: Promise<Awaited<ReturnType<typeof fetchChunk>>> | null = fetchChunk(chunks[0]);
  // A chunk fetched ahead and never awaited (the consumer stopped) must not become an unhandled rejection.
  next?.catch(() => undefined);
  for (let c = 0; next; c++) {
    ctx.signal.throwIfAborted();
    const got = await next;
    next = c + 1 < chunks.length ? fetchChunk(chunks[c + 1]) : null;
    next?.catch(() => undefined);
    yield got.map((g) => ({ raw: g.raw, flags: g.flags, internalDate: g.internalDate, uid: g.uid }));
  }
}
