/**
 * @module node/transfer/dav-import
 * Calendars and address books into an account: each object lands under a
 * name derived from its UID, so a repeated import overwrites instead of
 * adding (the DAV store keys objects by name and refuses a second resource
 * with the same UID, RFC 4791 §5.3.2.1 no-uid-conflict). The collection is
 * found by name or made, with the source's display name and colour.
 */
import { basename } from 'node:path';
import { promises as fsp } from 'node:fs';
import type { CollectionKind, Mailbox } from '../store/index.js';
import { resourceName, splitCalendar, splitVcards, type SplitObject } from './ical-split.js';
import type { Progress } from './progress.js';

export interface DavCollectionIn {
  kind: CollectionKind;
  name: string;
  displayName: string | null;
  color: string | null;
  objects: SplitObject[];
}

/** Writes one collection's objects; returns how many were stored. */
export function storeCollection(mailbox: Mailbox, c: DavCollectionIn): number {
  const dav = mailbox.dav;
  let col = dav.collection(c.kind, c.name);
  if (!col) col = dav.createCollection(c.kind, c.name, { displayName: c.displayName ?? c.name, color: c.color ?? undefined, components: c.kind === 'calendar' ? ['VEVENT', 'VTODO'] : undefined });
  else if (c.displayName || c.color) dav.updateCollection(col.id, { displayName: c.displayName ?? undefined, color: c.color ?? undefined });
  let n = 0;
  for (const o of c.objects) {
    const existing = dav.objectByUid(col.id, o.uid);
    const name = existing?.name ?? resourceName(o.uid, c.kind === 'calendar' ? 'ics' : 'vcf');
    if (existing?.data === o.data) continue;
    dav.put(col.id, { name, uid: o.uid, data: o.data, component: c.kind === 'calendar' ? o.component : null, firstStart: null, lastEnd: null }, 'import');
    n++;
  }
  return n;
}

/** A collection's name in a URL: the file's base name, plain. */
export function collectionName(path: string): string {
  return basename(path).replace(/\.(ics|ical|ifb|vcf|vcard)$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'imported';
}

/** One .ics or .vcf file into the collection `as.name` (default: from the file's name). */
export async function importDavFile(mailbox: Mailbox, path: string, progress: Progress, as: { name?: string; displayName?: string | null; color?: string | null } = {}): Promise<void> {
  const text = await fsp.readFile(path, 'utf8');
  const isCal = /\.(ics|ical|ifb)$/i.test(path) || /^BEGIN:VCALENDAR/im.test(text.slice(0, 1000));
  progress.s.current = basename(path);
  if (isCal) {
    const cal = splitCalendar(text);
    storeCollection(mailbox, { kind: 'calendar', name: as.name ?? collectionName(path), displayName: as.displayName ?? cal.displayName, color: as.color ?? cal.color, objects: cal.objects });
    progress.s.objects += cal.objects.length;
  } else {
    const cards = splitVcards(text);
    storeCollection(mailbox, { kind: 'addressbook', name: as.name ?? collectionName(path), displayName: as.displayName ?? null, color: null, objects: cards });
    progress.s.objects += cards.length;
  }
}
