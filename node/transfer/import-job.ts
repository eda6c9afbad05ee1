/**
 * @module node/transfer/import-job
 * Runs one import source into one open mailbox: batches each folder's
 * messages (by count and bytes, so memory stays bounded whatever the
 * mailbox), writes each batch with its record in one transaction
 * (sink.ts) — inside the node in slices of about 20 ms of work, a
 * transaction each, with a turn of the event loop between them, so the
 * node's sessions never wait for a whole batch — keeps the progress, and
 * holds to a rate limit when one is set (a courtesy to the source server,
 * which may throttle or lock an account that pulls too fast).
 */
import type { Folder, Mailbox } from '../store/index.js';
import { MemoryBound, processRunsAlone } from './memory.js';
import { Progress } from './progress.js';
import { MailSink, type FolderPolicy, type IncomingMessage, type Prepared } from './sink.js';
import type { ImportSource } from './source.js';

export interface ImportOptions {
  /** Most messages per batch. */
  batchMessages?: number;
  /** Most bytes per batch (one large message still goes alone); a batch is one transaction unless sliceMs cuts it. Default 2 MB, 512 KB inside the node. */
  batchBytes?: number;
  /**
   * Most milliseconds of synchronous work per transaction (parse, hash,
   * index, store); a batch takes as many transactions as it needs, with a
   * turn of the event loop between them. Default: 20 inside the node, no
   * bound in the CLI's own process (which serves nobody, and goes faster in
   * fewer transactions).
   */
  sliceMs?: number;
  /** Most messages per second; 0 = as fast as the source gives them. */
  rate?: number;
  signal: AbortSignal;
  progress: Progress;
}

/**
 * A slice's budget inside the node. Measured with `npm run bench -- import
 * --through-node --mb 2048 --kb 200`: one transaction per 2 MB batch held the
 * event loop 128 ms (median) to 352 ms; see the module note for the figures
 * with slices.
 */
const SLICE_MS = 20;

/**
 * A batch's bytes inside the node, where slices already bound each
 * transaction and a batch only holds messages waiting for their slice.
 * Measured with `npm run bench -- import --through-node --mb 256 --kb 200`:
 * the node's peak RSS was 220 MB with 2 MB batches and IMAP chunks, 196 MB
 * with 512 KB (its V8 heap, about 100 MB of the peak, is the same in both;
 * what fell is dead message Buffers awaiting a collection, 31 → 15 MB).
 */
export const NODE_BATCH_BYTES = 512 * 1024;

export async function runImport(mailbox: Mailbox, source: ImportSource, o: ImportOptions): Promise<void> {
  const sink = new MailSink(mailbox);
  const memory = new MemoryBound();
  const maxN = o.batchMessages ?? 200;
  const maxBytes = o.batchBytes ?? (processRunsAlone() ? 2 * 1024 * 1024 : NODE_BATCH_BYTES);
  const p = o.progress;
  /** The pace counts from the first batch: connecting and listing folders must not earn a burst. */
  let paceFrom: number | null = null;
  let sent = 0;
  let folder: { f: Folder; policy: FolderPolicy; cursor?: { source: Buffer; uidValidity: number } } | null = null;
  let batch: IncomingMessage[] = [];
  let batchBytes = 0;

  const sliceMs = o.sliceMs ?? (processRunsAlone() ? Infinity : SLICE_MS);
  const flush = async () => {
    if (!folder || batch.length === 0) return;
    paceFrom ??= Date.now();
    const ready: Prepared[] = [];
    for (let from = 0; from < batch.length; ) {
      // In slices, messages are parsed in one turn of the event loop and stored in the next: a large message's two halves wait apart.
      let to = batch.length;
      if (sliceMs !== Infinity) {
        to = sink.prepare(batch, ready, from, sliceMs);
        await new Promise((r) => setImmediate(r));
        o.signal.throwIfAborted();
      }
      const r = sink.write(folder.f, batch, folder.policy, folder.cursor, { from, to, budgetMs: sliceMs, ready });
      let bytes = 0;
      for (let i = from; i < from + r.taken; i++) bytes += batch[i].raw.length;
      from += r.taken;
      p.add({ messages: r.imported + r.shared, skipped: r.skipped, bytes });
      // Let delivery and sessions run between slices: the node keeps serving while it imports.
      await new Promise((r) => setImmediate(r));
      o.signal.throwIfAborted();
    }
    sent += batch.length;
    batch = [];
    memory.check(batchBytes);
    batchBytes = 0;
    if (o.rate && o.rate > 0) {
      // Ahead of the allowed pace: wait until the pace catches up (the throttle, not a test's sleep).
      const due = paceFrom + (sent / o.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };

  const ctx = { cursor: (s: Buffer) => sink.cursor(s), signal: o.signal, retried: () => p.s.retries++ };
  for await (const ev of source(ctx)) {
    o.signal.throwIfAborted();
    if (ev.type === 'total') p.total(ev.messages, ev.bytes);
    else if (ev.type === 'folder') {
      await flush();
      folder = { f: sink.folder(ev.name, ev.specialUse), policy: ev.policy, cursor: ev.cursor };
      p.s.current = ev.name;
    } else {
      if (!folder) throw new Error('import source gave a message before its folder');
      const rateCap = o.rate && o.rate > 0 ? Math.max(1, Math.ceil(o.rate / 4)) : maxN;
      batch.push(ev.msg);
      batchBytes += ev.msg.raw.length;
      if (batch.length >= Math.min(maxN, rateCap) || batchBytes >= maxBytes) await flush();
    }
  }
  await flush();
}
