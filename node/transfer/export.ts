/**
 * @module node/transfer/export
 * An account's data out in open formats, into a directory:
 *   mail/            Maildir++ (INBOX at the root, `.Sub.Folder` directories,
 *                    flags in the file names, keywords in dovecot-keywords,
 *                    INTERNALDATE as the file's time) or, with mbox, one
 *                    mboxrd file per folder (`mail/Sub/Folder.mbox`)
 *   calendars/<name>.ics, contacts/<name>.vcf
 *   manifest.json    counts and SHA-256 digests of everything written
 * One message is in memory at a time. Files are 0600 in 0700 directories:
 * the export is the owner's plaintext mail.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Mailbox } from '../store/index.js';
import { joinCalendar } from './ical-split.js';
import { dirForFolder, formatKeywordsFile, nameInfo, uniqueName } from './maildir.js';
import { mboxrdEntry, toLf } from './mbox.js';
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

const dirMode = { recursive: true, mode: 0o700 } as const;
const safeFile = (name: string) => name.replace(/[^A-Za-z0-9 ._@+-]/g, '_').replace(/^\.+/, '_') || 'unnamed';

export async function runExport(mailbox: Mailbox, dir: string, o: { format: ExportFormat; signal: AbortSignal; progress: Progress }): Promise<Manifest> {
  mkdirSync(dir, dirMode);
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
  for (const f of folders) {
    p.s.current = f.name;
    const digest = createHash('sha256');
    let count = 0;
    let bytes = 0;
    const metas = mailbox.messages.list(f.id);
    let rel: string;
    if (o.format === 'maildir') {
      rel = join('mail', dirForFolder(f.name));
      const root = join(dir, rel);
      for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, sub), dirMode);
      if (f.name !== 'INBOX') await fsp.writeFile(join(root, 'maildirfolder'), '', { mode: 0o600 });
      const keywords: string[] = [];
      for (const m of metas) {
        o.signal.throwIfAborted();
        const raw = mailbox.messages.raw(m.blobId);
        const data = toLf(raw);
        const file = join(root, 'cur', uniqueName(m.internalDate, ++n, data.length) + nameInfo(m.flags, keywords));
        await fsp.writeFile(file, data, { mode: 0o600 });
        await fsp.utimes(file, m.internalDate / 1000, m.internalDate / 1000);
        digest.update(createHash('sha256').update(raw).digest());
        count++;
        bytes += raw.length;
        p.add({ messages: 1, skipped: 0, bytes: raw.length });
      }
      if (keywords.length) await fsp.writeFile(join(root, 'dovecot-keywords'), formatKeywordsFile(keywords), { mode: 0o600 });
    } else {
      rel = join('mail', ...f.name.split('/').map(safeFile)) + '.mbox';
      mkdirSync(dirname(join(dir, rel)), dirMode);
      const out = createWriteStream(join(dir, rel), { mode: 0o600 });
      for (const m of metas) {
        o.signal.throwIfAborted();
        const raw = mailbox.messages.raw(m.blobId);
        const withStatus = withMboxStatus(raw, m.flags);
        if (!out.write(mboxrdEntry(withStatus, 'MAILER-DAEMON', m.internalDate))) await new Promise<void>((r) => out.once('drain', () => r()));
        digest.update(createHash('sha256').update(raw).digest());
        count++;
        bytes += raw.length;
        p.add({ messages: 1, skipped: 0, bytes: raw.length });
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
    manifest.folders.push({ name: f.name, specialUse: f.specialUse, messages: count, bytes, sha256: digest.digest('hex'), path: rel });
  }
  for (const c of mailbox.dav.collections()) {
    const objs = mailbox.dav.objects(c.id);
    const text = c.kind === 'calendar' ? joinCalendar(objs.map((x) => x.data), { displayName: c.displayName, color: c.color }) : objs.map((x) => x.data.replace(/\r?\n$/, '') + '\r\n').join('');
    const rel = join(c.kind === 'calendar' ? 'calendars' : 'contacts', safeFile(c.name) + (c.kind === 'calendar' ? '.ics' : '.vcf'));
    mkdirSync(dirname(join(dir, rel)), dirMode);
    await fsp.writeFile(join(dir, rel), text, { mode: 0o600 });
    const sha256 = createHash('sha256').update(text).digest('hex');
    p.s.objects += objs.length;
    if (c.kind === 'calendar') manifest.calendars.push({ name: c.name, displayName: c.displayName, color: c.color, objects: objs.length, path: rel, sha256 });
    else manifest.addressBooks.push({ name: c.name, displayName: c.displayName, objects: objs.length, path: rel, sha256 });
  }
  await fsp.writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  return manifest;
}
