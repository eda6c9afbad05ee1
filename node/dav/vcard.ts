/**
 * @module node/dav/vcard
 * vCard 3.0 and 4.0 through ical.js: validating an address object resource
 * on PUT (RFC 6352 §5.1) and reading property values for addressbook-query.
 */
import ICAL from 'ical.js';
import { DavError, pre } from './errors.js';

type Comp = InstanceType<typeof ICAL.Component>;

export interface ParsedVCard {
  card: Comp;
  uid: string;
  version: string;
}

const invalid = (why: string): DavError =>
  new DavError(403, pre.card('valid-address-data'), `the contact is not a valid vCard (${why}); fix the file and PUT it again`);

export function parseVCard(text: string): ParsedVCard {
  if (!/^BEGIN:VCARD\r?\n/i.test(text.replace(/^\uFEFF/, ''))) throw invalid('it does not start with BEGIN:VCARD');
  let j: unknown;
  try {
    j = ICAL.parse(text);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (Array.isArray(j) && Array.isArray(j[0])) {
    if (j.length !== 1) throw invalid('more than one vCard in one resource; PUT each contact separately');
    j = j[0];
  }
  const card = new ICAL.Component(j as never);
  if (card.name !== 'vcard') throw invalid('the top component is not VCARD');
  const version = String(card.getFirstPropertyValue('version') ?? '');
  if (!['2.1', '3.0', '4.0'].includes(version)) throw invalid(`VERSION must be 3.0 or 4.0, not "${version}"`);
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
