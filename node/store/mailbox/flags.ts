/**
 * @module node/store/mailbox/flags
 * System flags live in a bitmask (cheap to search and count), keywords in a
 * space-separated column. The API speaks IMAP flag strings.
 */
export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;
export const SEEN = 1;
export const ANSWERED = 2;
export const FLAGGED = 4;
export const DELETED = 8;
export const DRAFT = 16;

const BIT: Record<string, number> = { '\\seen': SEEN, '\\answered': ANSWERED, '\\flagged': FLAGGED, '\\deleted': DELETED, '\\draft': DRAFT };

export function flagBit(flag: string): number {
  return BIT[flag.toLowerCase()] ?? 0;
}

export function splitFlags(flags: readonly string[]): { bits: number; keywords: string[] } {
  let bits = 0;
  const keywords: string[] = [];
  for (const f of flags) {
    const b = flagBit(f);
    if (b) bits |= b;
    else if (f.startsWith('\\')) continue; // \Recent and unknown system flags are not stored
    else if (!keywords.some((k) => k.toLowerCase() === f.toLowerCase())) keywords.push(f);
  }
  return { bits, keywords };
}

export function joinFlags(bits: number, keywords: string): string[] {
  const out: string[] = [];
  SYSTEM_FLAGS.forEach((f, i) => {
    if (bits & (1 << i)) out.push(f);
  });
  if (keywords) out.push(...keywords.split(' '));
  return out;
}

const BITS_TEXT: string[] = [];

/**
 * The flag names of bits and keywords as one space-separated string. The
 * text for bits alone is built once: a FETCH FLAGS over a big mailbox asks
 * for the same few combinations 100,000 times.
 */
export function flagText(bits: number, keywords: string): string {
  let t = BITS_TEXT[bits];
  if (t === undefined) t = BITS_TEXT[bits] = joinFlags(bits, '').join(' ');
  return !keywords ? t : t ? t + ' ' + keywords : keywords;
}

export function mergeKeywords(current: string, mode: 'set' | 'add' | 'remove', keywords: string[]): string {
  if (mode === 'set') return keywords.join(' ');
  const have = current ? current.split(' ') : [];
  if (mode === 'add') {
    for (const k of keywords) if (!have.some((h) => h.toLowerCase() === k.toLowerCase())) have.push(k);
    return have.join(' ');
  }
  const drop = new Set(keywords.map((k) => k.toLowerCase()));
  return have.filter((h) => !drop.has(h.toLowerCase())).join(' ');
}
