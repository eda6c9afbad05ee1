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
 */
import { createHash } from 'node:crypto';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { backoffMs } from '../util/backoff.js';
import { planFolders, type FolderPlan } from './imap-folders.js';
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
    let client = await connect();
    try {
      const listed = await client.list({ statusQuery: { messages: true } });
      let plan = planFolders(listed.map((l) => ({ path: l.path, delimiter: l.delimiter, flags: [...l.flags], specialUse: l.specialUse ?? null })));
      if (o.folders) plan = plan.filter((p) => o.folders!.includes(p.path));
      yield { type: 'total', messages: listed.filter((l) => plan.some((p) => p.path === l.path)).reduce((n, l) => n + (l.status?.messages ?? 0), 0), bytes: null };
      for (const folder of plan) {
        let failures = 0;
        let after = -1;
        let announced = false;
        for (;;) {
          try {
            for await (const ev of folderEvents(client, folder, after, ctx, cursorKey(folder.path), o, !announced)) {
              if (ev.type === 'folder') announced = true;
              if (ev.type === 'message') after = ev.msg.uid!;
              yield ev;
            }
            break;
          } catch (err) {
            if (!retryable(err) || ++failures > (o.retries ?? 5) || ctx.signal.aborted) throw err;
            ctx.retried();
            await new Promise((r) => setTimeout(r, backoffMs(failures, 500, 15_000)));
            await client.logout().catch(() => undefined);
            client = await connect();
          }
        }
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
  };
}

async function* folderEvents(client: ImapFlow, folder: FolderPlan, after: number, ctx: SourceContext, key: Buffer, o: ImapSourceOptions, announce: boolean): AsyncIterable<SourceEvent> {
  const box = await client.mailboxOpen(folder.path, { readOnly: true });
  const uidValidity = Number(box.uidValidity);
  const cur = ctx.cursor(key);
  const done = Math.max(after, cur && cur.uidValidity === uidValidity ? cur.lastUid : 0);
  if (announce) yield { type: 'folder', name: folder.name, specialUse: folder.specialUse, policy: folder.policy, cursor: { source: key, uidValidity } };
  if (box.exists === 0) return;
  // UIDs and sizes first (a few bytes each), so FETCH can go in chunks of bounded bytes.
  const sizes: { uid: number; size: number }[] = [];
  for await (const m of client.fetch(`${done + 1}:*`, { uid: true, size: true }, { uid: true })) if (m.uid > done) sizes.push({ uid: m.uid, size: m.size ?? 0 });
  sizes.sort((a, b) => a.uid - b.uid);
  const maxN = o.chunkMessages ?? 100;
  const maxB = o.chunkBytes ?? 4 * 1024 * 1024;
  // Chunks by count and bytes (4 MB: peak RSS 74 MB above idle for 200 KB messages, 130 MB with 8 MB chunks); the next chunk's FETCH is asked for while this one is written (two chunks in memory at most).
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
  let next = chunks.length ? fetchChunk(chunks[0]) : null;
  // A chunk fetched ahead and never awaited (the consumer stopped) must not become an unhandled rejection.
  next?.catch(() => undefined);
  for (let c = 0; next; c++) {
    ctx.signal.throwIfAborted();
    const got = await next;
    next = c + 1 < chunks.length ? fetchChunk(chunks[c + 1]) : null;
    next?.catch(() => undefined);
    for (const g of got) yield { type: 'message', msg: { raw: g.raw, flags: g.flags, internalDate: g.internalDate, uid: g.uid } };
  }
}
