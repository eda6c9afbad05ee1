/**
 * @module node/transfer/local-sources
 * Import sources on the node's disk: an mbox file (streamed through the
 * splitter) and a Maildir (Maildir++ `.Sub.Folder` directories, or a
 * directory of plain maildirs as mutt keeps them). Each message is read
 * when its turn comes, so memory holds one message, never a folder.
 * Maildir keeps INTERNALDATE as the file's modification time (Dovecot does).
 */
import { createReadStream, existsSync, promises as fsp, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { Manifest } from './export.js';
import { MboxSplitter, toCrlf, type MboxVariant } from './mbox.js';
import { readMboxStatus } from './mbox-status.js';
import { flagsFromName, folderFromDir, parseKeywordsFile } from './maildir.js';
import { guessSpecialUse, type ImportSource, type SourceEvent } from './source.js';
import { decodeUtf7 } from './utf7.js';

/** An mbox file into one folder: `into`, else the file's name (`Sent.mbox` → Sent; `mbox`, `inbox` → INBOX). */
export function mboxSource(path: string, opts: { into?: string; variant?: MboxVariant } = {}): ImportSource {
  return async function* (ctx): AsyncIterable<SourceEvent> {
    const base = basename(path).replace(/\.(mbox|mbx)$/i, '');
    const name = opts.into ?? (/^(mbox|inbox)$/i.test(base) ? 'INBOX' : base);
    yield { type: 'total', messages: null, bytes: statSync(path).size };
    const folder: SourceEvent = { type: 'folder', name, specialUse: guessSpecialUse(name), policy: 'append' };
    // The folder is announced with its first message, so a file that is no mbox leaves no empty folder behind.
    let announced = false;
    const split = new MboxSplitter(opts.variant ?? 'mboxrd');
    const take = function* (msgs: ReturnType<MboxSplitter['end']>): Iterable<SourceEvent> {
      for (const m of msgs) {
        if (!announced) yield folder;
        announced = true;
        yield { type: 'message', msg: { ...readMboxStatus(m.raw), internalDate: m.date } };
      }
    };
    for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024, signal: ctx.signal })) yield* take(split.push(chunk as Buffer));
    yield* take(split.end());
    if (!announced) yield folder;
  };
}

const isMaildir = (dir: string) => existsSync(join(dir, 'cur')) || existsSync(join(dir, 'new'));

/** The folders of a Maildir: [name, directory], INBOX first. */
async function maildirFolders(root: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const entries = (await fsp.readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (isMaildir(root)) {
    out.push(['INBOX', root]);
    for (const d of entries) {
      const name = folderFromDir(d);
      if (name && isMaildir(join(root, d))) out.push([name, join(root, d)]);
    }
  } else {
    // mutt: a directory of maildirs, one per folder, named plainly.
    for (const d of entries) if (!d.startsWith('.') && isMaildir(join(root, d))) out.push([/^inbox$/i.test(d) ? 'INBOX' : decodeUtf7(d), join(root, d)]);
  }
  if (out.length === 0) throw new Error(`${root} holds no maildir (no cur/ or new/ directory)`);
  return out.sort((a, b) => (a[0] === 'INBOX' ? -1 : b[0] === 'INBOX' ? 1 : 0));
}

const numeric = new Intl.Collator('en', { numeric: true });
/**
 * Maildir names begin with the delivery time, then (Dovecot's, ours) `M`
 * and a sequence number: compared as numbers, `M10` follows `M9`, so a
 * folder's messages keep their order (their UIDs) through export and import.
 */
const byDelivery = (a: string, b: string) => numeric.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);

async function messageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['cur', 'new']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of (await fsp.readdir(d)).sort(byDelivery)) if (!f.startsWith('.')) out.push(join(d, f));
  }
  return out;
}

export function maildirSource(root: string): ImportSource {
  return async function* (ctx): AsyncIterable<SourceEvent> {
    const folders = await maildirFolders(root);
    let messages = 0;
    let bytes = 0;
    const files = new Map<string, string[]>();
    for (const [name, dir] of folders) {
      const list = await messageFiles(dir);
      files.set(name, list);
      messages += list.length;
      for (const f of list) bytes += statSync(f).size;
    }
    yield { type: 'total', messages, bytes };
    for (const [name, dir] of folders) yield* maildirFolder(name, dir, guessSpecialUse(name), files.get(name)!, ctx.signal);
  };
}

async function* maildirFolder(name: string, dir: string, specialUse: string | null, files: string[], signal: AbortSignal): AsyncIterable<SourceEvent> {
  const kwFile = join(dir, 'dovecot-keywords');
  const keywords = existsSync(kwFile) ? parseKeywordsFile(await fsp.readFile(kwFile, 'utf8')) : [];
  yield { type: 'folder', name, specialUse, policy: 'append' };
  for (const f of files) {
    signal.throwIfAborted();
    const [raw, st] = await Promise.all([fsp.readFile(f), fsp.stat(f)]);
    yield { type: 'message', msg: { raw: toCrlf(raw), flags: flagsFromName(basename(f), keywords), internalDate: Math.round(st.mtimeMs) } };
  }
}

/**
 * A directory `haven export` wrote: its manifest names each folder, its
 * special use and where its messages are (a Maildir++ directory or an mbox
 * file), so a move between two Haven servers keeps every folder as it was.
 */
export function exportDirSource(root: string, manifest: Manifest): ImportSource {
  return async function* (ctx): AsyncIterable<SourceEvent> {
    yield { type: 'total', messages: manifest.folders.reduce((n, f) => n + f.messages, 0), bytes: manifest.folders.reduce((n, f) => n + f.bytes, 0) };
    for (const f of manifest.folders) {
      const path = join(root, f.path);
      if (relative(root, path).startsWith('..')) throw new Error(`manifest.json names a path outside the export: ${f.path}`);
      if (manifest.format === 'maildir') {
        yield* maildirFolder(f.name, path, f.specialUse, await messageFiles(path), ctx.signal);
        continue;
      }
      yield { type: 'folder', name: f.name, specialUse: f.specialUse, policy: 'append' };
      for await (const ev of mboxSource(path)(ctx)) if (ev.type === 'message') yield ev;
    }
  };
}
