/**
 * @module node/transfer/dav-source
 * Another CalDAV/CardDAV server as an import source, through tsdav: every
 * calendar (RFC 4791) and address book (RFC 6352) the account's principal
 * lists (found by RFC 6764 discovery from the URL given), with its display
 * name and colour (the Apple calendar-color property most servers keep),
 * each object stored under its UID so a repeated import overwrites.
 */
import { createDAVClient } from 'tsdav';
import type { Mailbox } from '../store/index.js';
import { storeCollection } from './dav-import.js';
import { splitCalendar, splitVcards, type SplitObject } from './ical-split.js';
import { httpsFetch } from './https-fetch.js';
import type { Progress } from './progress.js';

export interface DavSourceOptions {
  url: string;
  user: string;
  password: string;
  insecure?: boolean;
}

/** The last segment of a collection URL, made safe as a Haven collection name. */
function nameOf(url: string): string {
  const seg = decodeURIComponent(new URL(url, 'http://x').pathname.replace(/\/+$/, '').split('/').pop() ?? '');
  return seg.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'imported';
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);

export async function importFromDav(mailbox: Mailbox, o: DavSourceOptions, progress: Progress, signal: AbortSignal): Promise<void> {
  const fetch = httpsFetch({ insecure: o.insecure });
  const connect = (accountType: 'caldav' | 'carddav') => createDAVClient({ serverUrl: o.url, credentials: { username: o.user, password: o.password }, authMethod: 'Basic', defaultAccountType: accountType, fetch });
  const cal = await connect('caldav');
  for (const c of await cal.fetchCalendars()) {
    signal.throwIfAborted();
    progress.s.current = text(c.displayName) ?? nameOf(c.url);
    const objects: SplitObject[] = [];
    for (const obj of await cal.fetchCalendarObjects({ calendar: c })) {
      if (typeof obj.data === 'string' && obj.data) objects.push(...splitCalendar(obj.data).objects);
    }
    storeCollection(mailbox, { kind: 'calendar', name: nameOf(c.url), displayName: text(c.displayName), color: text(c.calendarColor), objects });
    progress.s.objects += objects.length;
  }
  const card = await connect('carddav');
  for (const b of await card.fetchAddressBooks()) {
    signal.throwIfAborted();
    progress.s.current = text(b.displayName) ?? nameOf(b.url);
    const objects: SplitObject[] = [];
    for (const v of await card.fetchVCards({ addressBook: b })) if (typeof v.data === 'string' && v.data) objects.push(...splitVcards(v.data));
    storeCollection(mailbox, { kind: 'addressbook', name: nameOf(b.url), displayName: text(b.displayName), color: null, objects });
    progress.s.objects += objects.length;
  }
}
