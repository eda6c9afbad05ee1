/**
 * @module node/transfer/ical-split
 * Splitting and joining iCalendar (RFC 5545) and vCard (RFC 6350) files,
 * pure and line-based so every property survives byte for byte: a folded
 * line continues with a space or tab (RFC 5545 §3.1), so a line that starts
 * `BEGIN:` is always a real component boundary.
 *   - a calendar file becomes one object per UID (a recurring event and its
 *     overrides share a UID, RFC 5545 §3.8.4.7; a CalDAV resource holds
 *     exactly those, RFC 4791 §4.1), each with the file's VTIMEZONEs;
 *   - an address book file becomes one object per VCARD.
 * The calendar's name and colour travel as X-WR-CALNAME and
 * X-APPLE-CALENDAR-COLOR, what Apple, Google and Thunderbird read.
 */
import { createHash } from 'node:crypto';

export interface SplitObject {
  uid: string;
  /** VEVENT, VTODO, VJOURNAL or VCARD. */
  component: string;
  data: string;
}

export interface SplitCalendar {
  displayName: string | null;
  color: string | null;
  objects: SplitObject[];
}

function lines(text: string): string[] {
  return text.replace(/\r?\n$/, '').split(/\r?\n/);
}

/** The value of a property among unfolded-enough lines (names are case-insensitive, RFC 5545 §3.1). */
function prop(block: string[], name: string): string | null {
  const re = new RegExp(`^${name}(;[^:]*)?:(.*)$`, 'i');
  for (let i = 0; i < block.length; i++) {
    const m = re.exec(block[i]);
    if (!m) continue;
    let v = m[2];
    while (i + 1 < block.length && /^[ \t]/.test(block[i + 1])) v += block[++i].slice(1);
    return v;
  }
  return null;
}

const syntheticUid = (text: string) => 'haven-import-' + createHash('sha256').update(text).digest('hex').slice(0, 32);

export function splitCalendar(text: string): SplitCalendar {
  const all = lines(text);
  const head: string[] = [];
  const zones: string[][] = [];
  const byUid = new Map<string, { component: string; blocks: string[][] }>();
  let depth = 0;
  let cur: string[] | null = null;
  let curType = '';
  for (const line of all) {
    const begin = /^BEGIN:(\S+)/i.exec(line);
    const end = /^END:(\S+)/i.exec(line);
    if (begin) depth++;
    if (depth === 1 && !begin && !end) head.push(line);
    if (depth === 2 && begin) {
      cur = [];
      curType = begin[1].toUpperCase();
    }
    if (cur) cur.push(line);
    if (end) {
      if (depth === 2 && cur) {
        if (curType === 'VTIMEZONE') zones.push(cur);
        else {
          const uid = prop(cur, 'UID') ?? syntheticUid(cur.join('\n'));
          const e = byUid.get(uid) ?? { component: curType, blocks: [] };
          e.blocks.push(cur);
          byUid.set(uid, e);
        }
        cur = null;
      }
      depth--;
    }
  }
  if (byUid.size === 0 && !all.some((l) => /^BEGIN:VCALENDAR/i.test(l))) throw new Error('not an iCalendar file (no BEGIN:VCALENDAR)');
  const keep = head.filter((l) => !/^(X-WR-CALNAME|X-APPLE-CALENDAR-COLOR|COLOR|NAME)[;:]/i.test(l));
  const objects = [...byUid].map(([uid, e]) => ({
    uid,
    component: e.component,
    data: ['BEGIN:VCALENDAR', ...keep, ...zones.flat(), ...e.blocks.flat(), 'END:VCALENDAR', ''].join('\r\n'),
  }));
  return { displayName: prop(head, 'X-WR-CALNAME') ?? prop(head, 'NAME'), color: prop(head, 'X-APPLE-CALENDAR-COLOR'), objects };
}

/** One calendar file from stored objects: one VCALENDAR, the zones once, every component. */
export function joinCalendar(objects: readonly string[], meta: { displayName: string | null; color: string | null }): string {
  const out = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven//export//EN'];
  if (meta.displayName) out.push(`X-WR-CALNAME:${meta.displayName}`);
  if (meta.color) out.push(`X-APPLE-CALENDAR-COLOR:${meta.color}`);
  const zones = new Map<string, string>();
  const comps: string[] = [];
  for (const o of objects) {
    let depth = 0;
    let cur: string[] | null = null;
    let type = '';
    for (const line of lines(o)) {
      const begin = /^BEGIN:(\S+)/i.exec(line);
      if (begin) depth++;
      if (depth === 2 && begin) {
        cur = [];
        type = begin[1].toUpperCase();
      }
      if (cur) cur.push(line);
      if (/^END:/i.test(line)) {
        if (depth === 2 && cur) {
          if (type === 'VTIMEZONE') zones.set(prop(cur, 'TZID') ?? cur.join('\n'), cur.join('\r\n'));
          else comps.push(cur.join('\r\n'));
          cur = null;
        }
        depth--;
      }
    }
  }
  return [...out, ...zones.values(), ...comps, 'END:VCALENDAR', ''].join('\r\n');
}

export function splitVcards(text: string): SplitObject[] {
  const out: SplitObject[] = [];
  let cur: string[] | null = null;
  let depth = 0;
  for (const line of lines(text)) {
    if (/^BEGIN:VCARD/i.test(line)) {
      depth++;
      if (depth === 1) cur = [];
    }
    if (cur) cur.push(line);
    if (/^END:VCARD/i.test(line)) {
      depth--;
      if (depth === 0 && cur) {
        const data = cur.join('\r\n') + '\r\n';
        out.push({ uid: prop(cur, 'UID') ?? syntheticUid(data), component: 'VCARD', data });
        cur = null;
      }
    }
  }
  if (out.length === 0 && text.trim() !== '') throw new Error('not a vCard file (no BEGIN:VCARD)');
  return out;
}

/** A resource name for a UID: safe in a URL path, and the same every run so a repeat import overwrites. */
export function resourceName(uid: string, ext: 'ics' | 'vcf'): string {
  return /^[A-Za-z0-9@._-]{1,100}$/.test(uid) ? `${uid}.${ext}` : `${createHash('sha256').update(uid).digest('hex').slice(0, 40)}.${ext}`;
}
