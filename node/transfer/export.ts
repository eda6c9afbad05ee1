/**
 * @module node/transfer/export
 * An account's data out in open formats, into a directory:
 *   mail/            Maildir++ (INBOX at the root, `.Sub.Folder` directories,
 *                    flags in the file names, keywords in dovecot-keywords,
 *                    INTERNALDATE as the file's time) or, with mbox, one
 *                    mboxrd file per folder (`mail/Sub/Folder.mbox`)
 *   calendars/<name>.ics, contacts/<name>.vcf
 *   manifest.json    counts and SHA-256 digests of everything written
 * One message is in memory at a time. The same export goes to a directory
 * (files 0600 in 0700 directories: it is the owner's plaintext mail) or,
 * streamed, into a ZIP the owner downloads (zip.ts), never both on disk.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Mailbox } from '../store/index.js';
import { joinCalendar } from './ical-split.js';
import { dirForFolder, formatKeywordsFile, nameInfo, uniqueName } from './maildir.js';
import { mboxrdBound, mboxrdEntry, toLf } from './mbox.js';
import { withMboxStatus } from './mbox-status.js';
import type { Progress } from './progress.js';

export type ExportFormat = 'maildir' | 'mbox';

export interface ManifestFolder {
  name: string;
  specialUse: string | null;
  messages: number;
  bytes: number;
  /** SHA-256 over the SHA-256 of each message's stored bytes, in UID order. */
  sha256: string;
  path: string;
}

export interface Manifest {
  haven: 'export-v1';
  format: ExportFormat;
  exportedAt: string;
  folders: ManifestFolder[];
  calendars: { name: string; displayName: string | null; color: string | null; objects: number; path: string; sha256: string }[];
  addressBooks: { name: string; displayName: string | null; objects: number; path: string; sha256: string }[];
}

/** A folder's or collection's name as a file name: letters and digits of any script kept, anything a file system could take amiss replaced. */
const safeFile = (name: string) => name.normalize('NFC').replace(/[^\p{L}\p{N} ._@+-]/gu, '_').replace(/^\.+/, '_') || 'unnamed';

/**
 * Paths for one export, each used once: two names that come out the same
 * ("Öl" and "Äl" once were both `_l`), or differ only in case (one file
 * on macOS and Windows), would overwrite each other, so the later gets
 * " 2", " 3"… The manifest records which path holds which folder.
 */
function pathNamer(): (dir: string, name: string, ext: string) => string {
  const used = new Set<string>();
  return (dir, name, ext) => {
    for (let i = 1; ; i++) {
      const rel = `${dir}/${name}${i > 1 ? ` ${i}` : ''}${ext}`;
      if (used.has(rel.toLowerCase())) continue;
      used.add(rel.toLowerCase());
      return rel;
    }
  };
}

/** Where an export goes: a directory on disk or a streamed ZIP. Paths are relative, '/'-separated. */
export interface ExportTarget {
  dir(rel: string): Promise<void>;
  /** `maxBytes`: the most the file will hold, when known before its data (a ZIP needs ZIP64 only past 4 GiB). */
  begin(rel: string, mtimeMs?: number, maxBytes?: number): Promise<void>;
  write(data: Buffer): Promise<void>;
  end(): Promise<void>;
}

/** A directory: files 0600, directories 0700, each file's time set when given (Maildir's INTERNALDATE). */
export function directoryTarget(root: string): ExportTarget {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  let cur: { fh: fsp.FileHandle; path: string; mtime?: number } | null = null;
  return {
    dir: async (rel) => void mkdirSync(join(root, rel), { recursive: true, mode: 0o700 }),
    async begin(rel, mtimeMs) {
      const path = join(root, rel);
      mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
      cur = { fh: await fsp.open(path, 'w', 0o600), path, mtime: mtimeMs };
    },
    async write(data) {
      await cur!.fh.write(data);
    },
    async end() {
      const c = cur!;
      cur = null;
      await c.fh.close();
      if (c.mtime !== undefined) await fsp.utimes(c.path, c.mtime / 1000, c.mtime / 1000);
    },
  };
}

async function writeFile(t: ExportTarget, rel: string, data: Buffer | string, mtimeMs?: number): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  await t.begin(rel, mtimeMs, bytes.length);
  await t.write(bytes);
  await t.end();
}

export async function runExport(mailbox: Mailbox, t: ExportTarget, o: { format: ExportFormat; signal: AbortSignal; progress: Progress }): Promise<Manifest> {
  const p = o.progress;
  const folders = mailbox.folders.list();
  let totalN = 0;
  let totalB = 0;
  for (const f of folders) {
    const s = mailbox.folders.status(f.id);
    totalN += s.messages;
    totalB += s.size;
  }
  p.total(totalN, totalB);
  const manifest: Manifest = { haven: 'export-v1', format: o.format, exportedAt: new Date().toISOString(), folders: [], calendars: [], addressBooks: [] };
  let n = 0;
  const path = pathNamer();
  for (const f of folders) {
    p.s.current = f.name;
    const digest = createHash('sha256');
    let count = 0;
    let bytes = 0;
    const metas = mailbox.messages.list(f.id);
    let rel: string;
    const done = (raw: Buffer) => {
      digest.update(createHash('sha256').update(raw).digest());
      count++;
      bytes += raw.length;
      p.add({ messages: 1, skipped: 0, bytes: raw.length });
    };
    if (o.format === 'maildir') {
      rel = ['mail', dirForFolder(f.name)].filter(Boolean).join('/');
      for (const sub of ['cur', 'new', 'tmp']) await t.dir(`${rel}/${sub}`);
      if (f.name !== 'INBOX') await writeFile(t, `${rel}/maildirfolder`, '');
      const keywords: string[] = [];
      for (const m of metas) {
        o.signal.throwIfAborted();
        const raw = mailbox.messages.raw(m.blobId);
        const data = toLf(raw);
        await writeFile(t, `${rel}/cur/${uniqueName(m.internalDate, ++n, data.length)}${nameInfo(m.flags, keywords)}`, data, m.internalDate);
        done(raw);
      }
      if (keywords.length) await writeFile(t, `${rel}/dovecot-keywords`, formatKeywordsFile(keywords));
    } else {
      const parts = f.name.split('/').map(safeFile);
      rel = path(['mail', ...parts.slice(0, -1)].join('/'), parts[parts.length - 1], '.mbox');
      await t.begin(rel, undefined, metas.reduce((n, m) => n + mboxrdBound(m.size, m.flags), 0));
      for (const m of metas) {
        o.signal.throwIfAborted();
        const raw = mailbox.messages.raw(m.blobId);
        await t.write(mboxrdEntry(withMboxStatus(raw, m.flags), 'MAILER-DAEMON', m.internalDate));
        done(raw);
      }
      await t.end();
    }
    manifest.folders.push({ name: f.name, specialUse: f.specialUse, messages: count, bytes, sha256: digest.digest('hex'), path: rel });
  }
  for (const c of mailbox.dav.collections()) {
    const objs = mailbox.dav.objects(c.id);
    const text = c.kind === 'calendar' ? joinCalendar(objs.map((x) => x.data), { displayName: c.displayName, color: c.color }) : objs.map((x) => x.data.replace(/\r?\n$/, '') + '\r\n').join('');
    const rel = c.kind === 'calendar' ? path('calendars', safeFile(c.name), '.ics') : path('contacts', safeFile(c.name), '.vcf');
    await writeFile(t, rel, text);
    const sha256 = createHash('sha256').update(text).digest('hex');
    p.s.objects += objs.length;
    if (c.kind === 'calendar') manifest.calendars.push({ name: c.name, displayName: c.displayName, color: c.color, objects: objs.length, path: rel, sha256 });
    else manifest.addressBooks.push({ name: c.name, displayName: c.displayName, objects: objs.length, path: rel, sha256 });
  }
  await writeFile(t, 'manifest.json', JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
