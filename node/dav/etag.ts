/**
 * @module node/dav/etag
 * The entity-tag lists of If-Match and If-None-Match (RFC 9110 §8.8.3,
 * §13.1.1, §13.1.2) and the two comparisons of §8.8.3.2: strong for
 * If-Match, weak (the W/ prefix ignored on both sides) for If-None-Match.
 */

/** '*', the entity-tags listed, or null when the field is absent. Malformed members are dropped (they match nothing). */
export function etagList(field: string | null): '*' | string[] | null {
  if (field === null) return null;
  const v = field.trim();
  if (v === '*') return '*';
  return v.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** If-None-Match (§13.1.2): does any listed tag match `etag` by weak comparison? */
export function weakMatch(list: '*' | string[], etag: string): boolean {
  return list === '*' || list.some((t) => opaque(t) === opaque(etag));
}

/** If-Match (§13.1.1): does any listed tag match `etag` by strong comparison (neither weak)? */
export function strongMatch(list: '*' | string[], etag: string): boolean {
  return list === '*' || (!etag.startsWith('W/') && list.includes(etag));
}
