/**
 * @module node/transfer/local-sources
 * Import sources on the node's disk: an mbox file (streamed through the
 * splitter) and a Maildir (Maildir++ `.Sub.Folder` directories, or a
 * directory of plain maildirs as mutt keeps them). Each message is read
 * when its turn comes, so memory holds one message, never a folder.
 * Maildir keeps INTERNALDATE as the file's modification time (Dovecot does).
 */
import { createReadStream, existsSync, promises as fsp, statSync } from 'node:fs';
import { basename, join } from 'node:path';
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
    yield { type: 'total', messages: 0, bytes: statSync(path).size };
    yield { type: 'folder', name, specialUse: guessSpecialUse(name), policy: 'append' };
    const split = new MboxSplitter(opts.variant ?? 'mboxrd');
    for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024, signal: ctx.signal })) {
      for (const m of split.push(chunk as Buffer)) yield { type: 'message', msg: { ...readMboxStatus(m.raw), internalDate: m.date } };
    }
    for (const m of split.end()) yield { type: 'message', msg: { ...readMboxStatus(m.raw), internalDate: m.date } };
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

async function messageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['cur', 'new']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of (await fsp.readdir(d)).sort()) if (!f.startsWith('.')) out.push(join(d, f));
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
    for (const [name, dir] of folders) {
      const kwFile = join(dir, 'dovecot-keywords');
      const keywords = existsSync(kwFile) ? parseKeywordsFile(await fsp.readFile(kwFile, 'utf8')) : [];
      yield { type: 'folder', name, specialUse: guessSpecialUse(name), policy: 'append' };
      for (const f of files.get(name)!) {
        ctx.signal.throwIfAborted();
        const [raw, st] = await Promise.all([fsp.readFile(f), fsp.stat(f)]);
        yield { type: 'message', msg: { raw: toCrlf(raw), flags: flagsFromName(basename(f), keywords), internalDate: Math.round(st.mtimeMs) } };
      }
    }
  };
}
