/**
 * @module node/dav/vcard
 * vCard 3.0 and 4.0 through ical.js: validating an address object resource
 * on PUT (RFC 6352 §5.1) and reading property values for addressbook-query.
 * vCard 2.1 habits that phones still export (bare parameters such as
 * `PHOTO;JPEG;BASE64:`, quoted-printable soft line breaks, the blank line
 * after base64) are read through a lenient rewrite; the card is stored as
 * sent.
 */
import ICAL from 'ical.js';
import { DavError, pre } from './errors.js';

type Comp = InstanceType<typeof ICAL.Component>;

export interface ParsedVCard {
  card: Comp;
  uid: string;
  version: string;
}

/** Parser messages quote the offending line, which may be a whole photo. */
const clip = (s: string): string => (s.length > 160 ? `${s.slice(0, 160)}…` : s);

const invalid = (why: string): DavError =>
  new DavError(403, pre.card('valid-address-data'), `the contact is not a valid vCard (${clip(why)}); fix the file and PUT it again`);

/** vCard 2.1 bare parameters: encodings become ENCODING=, anything else a TYPE= (vCard 2.1 §2.1.3, RFC 2426 §4). */
const ENCODINGS = new Set(['BASE64', 'B', 'QUOTED-PRINTABLE', '8BIT', '7BIT']);

function fixParams(line: string): string {
  const colon = line.indexOf(':');
  const semi = line.indexOf(';');
  if (semi < 0 || colon < 0 || semi > colon || line.slice(semi, colon).includes('"')) return line;
  const params = line.slice(semi + 1, colon).split(';').map((p) => (p.includes('=') || p === '' ? p : ENCODINGS.has(p.toUpperCase()) ? `ENCODING=${p}` : `TYPE=${p}`));
  return `${line.slice(0, semi)};${params.join(';')}${line.slice(colon)}`;
}

/** The vCard 2.1 habits ical.js refuses, rewritten for reading only. */
function lenient(text: string): string {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const last = out.length - 1;
    // A quoted-printable value ending in "=" continues on the next line, unindented.
    if (last >= 0 && /ENCODING=QUOTED-PRINTABLE|;QUOTED-PRINTABLE/i.test(out[last].slice(0, out[last].indexOf(':'))) && out[last].endsWith('=')) {
      out[last] = out[last].slice(0, -1) + line;
      continue;
    }
    out.push(/^[ \t]/.test(line) ? line : fixParams(line));
  }
  return out.join('\r\n') + '\r\n';
}

function parseLenient(text: string): unknown {
  try {
    return ICAL.parse(text);
  } catch (err) {
    try {
      return ICAL.parse(lenient(text));
    } catch {
      throw invalid((err as Error).message);
    }
  }
}

export function parseVCard(text: string): ParsedVCard {
  if (!/^BEGIN:VCARD\r?\n/i.test(text.replace(/^\uFEFF/, ''))) throw invalid('it does not start with BEGIN:VCARD');
  let j = parseLenient(text);
  if (Array.isArray(j) && Array.isArray(j[0])) {
    if (j.length !== 1) throw invalid('more than one vCard in one resource; PUT each contact separately');
    j = j[0];
  }
  const card = new ICAL.Component(j as never);
  if (card.name !== 'vcard') throw invalid('the top component is not VCARD');
  const version = String(card.getFirstPropertyValue('version') ?? '');
  if (!['2.1', '3.0', '4.0'].includes(version)) throw invalid(`VERSION must be 3.0 or 4.0, not "${version}"`);
  // RFC 6350 §6.7.6: UID appears at most once; RFC 6352 §5.1 keys the object on it.
  if (card.getAllProperties('uid').length > 1) throw invalid('it has more than one UID; a contact has exactly one');
  const uidRaw = card.getFirstPropertyValue('uid');
  const uid = typeof uidRaw === 'string' ? uidRaw : uidRaw ? String(uidRaw) : '';
  if (!uid.trim()) throw new DavError(403, pre.card('valid-address-data'), 'the vCard has no UID; CardDAV needs one per contact (RFC 6352 §5.1)');
  if (!card.getFirstProperty('fn') && version !== '2.1') throw invalid('FN is required');
  return { card, uid, version };
}

/** Every value of a property as text (structured values joined with ';'), for text-match. */
export function propertyTexts(card: Comp, name: string): string[] {
  const out: string[] = [];
  for (const p of card.getAllProperties(name.toLowerCase())) {
    for (const v of p.getValues()) out.push(Array.isArray(v) ? v.flat().join(';') : String(v));
  }
  return out;
}
