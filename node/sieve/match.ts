/**
 * @module node/sieve/match
 * Comparators (RFC 4790 as Sieve uses them: i;octet, i;ascii-casemap,
 * i;ascii-numeric) and match types (:is, :contains, :matches from RFC 5228
 * §2.7.1; :value and :count from RFC 5231). :matches returns the text each
 * wildcard took, which the variables extension exposes as ${1}…${9}.
 */
export type MatchType = { kind: 'is' | 'contains' | 'matches' } | { kind: 'value' | 'count'; relation: string };

export interface Matcher {
  comparator: string;
  type: MatchType;
}

/** ASCII-only case folding: i;ascii-casemap must not fold other scripts (RFC 4790 §9.2). */
export function asciiLower(s: string): string {
  // Plain ASCII folds the same under toLowerCase, which is much cheaper than a replace.
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.toLowerCase() : s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function fold(comparator: string, s: string): string {
  return comparator === 'i;ascii-casemap' ? asciiLower(s) : s;
}

/** RFC 4790 §9.1: the leading digits as a number; no leading digit means positive infinity. */
function numeric(s: string): number {
  const m = /^[0-9]+/.exec(s);
  return m ? Number(m[0]) : Infinity;
}

/** Ordering for :value: negative, zero or positive. */
export function compare(comparator: string, a: string, b: string): number {
  if (comparator === 'i;ascii-numeric') {
    const x = numeric(a);
    const y = numeric(b);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const x = fold(comparator, a);
  const y = fold(comparator, b);
  return x === y ? 0 : x < y ? -1 : 1;
}

export function relationHolds(relation: string, c: number): boolean {
  switch (relation.toLowerCase()) {
    case 'gt':
      return c > 0;
    case 'ge':
      return c >= 0;
    case 'lt':
      return c < 0;
    case 'le':
      return c <= 0;
    case 'eq':
      return c === 0;
    default:
      return c !== 0;
  }
}

/**
 * :matches with "*" (any run) and "?" (one character), "\" escaping either;
 * returns the captured texts (one per wildcard) or null when it does not match.
 * Backtracking is linear in practice: each "*" tries its shortest span first.
 */
export function glob(comparator: string, value: string, pattern: string): string[] | null {
  const v = fold(comparator, value);
  const pieces: ({ lit: string } | { star: true } | { one: true })[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) pieces.push({ lit: fold(comparator, pattern[++i]) });
    else if (c === '*') pieces.push({ star: true });
    else if (c === '?') pieces.push({ one: true });
    else pieces.push({ lit: fold(comparator, c) });
  }
  const caps: string[] = [];
  // Memo of failed (piece, position) pairs keeps hostile patterns like "*a*a*a*b" polynomial.
  const failed = new Set<number>();
  const step = (p: number, i: number): boolean => {
    if (p === pieces.length) return i === v.length;
    const key = p * (v.length + 1) + i;
    if (failed.has(key)) return false;
    const piece = pieces[p];
    if ('lit' in piece) {
      if (v[i] === piece.lit && step(p + 1, i + 1)) return true;
    } else if ('one' in piece) {
      if (i < v.length) {
        caps.push(value[i]);
        if (step(p + 1, i + 1)) return true;
        caps.pop();
      }
    } else {
      for (let j = i; j <= v.length; j++) {
        caps.push(value.slice(i, j));
        if (step(p + 1, j)) return true;
        caps.pop();
      }
    }
    failed.add(key);
    return false;
  };
  return step(0, 0) ? caps : null;
}

/**
 * Whether any value matches any key. `values` are the texts the test
 * extracted; for :count it is their number that is compared. On a :matches
 * hit the captures are returned (whole value first) for the match variables.
 */
export function matchAny(m: Matcher, values: string[], keys: string[]): { hit: boolean; captures?: string[] } {
  const { comparator, type } = m;
  if (type.kind === 'count') {
    const n = String(values.length);
    return { hit: keys.some((k) => relationHolds(type.relation, compare(comparator, n, k))) };
  }
  for (const v of values) {
    for (const k of keys) {
      switch (type.kind) {
        case 'is':
          if (compare(comparator, v, k) === 0) return { hit: true };
          break;
        case 'contains':
          if (fold(comparator, v).includes(fold(comparator, k))) return { hit: true };
          break;
        case 'matches': {
          const caps = glob(comparator, v, k);
          if (caps) return { hit: true, captures: [v, ...caps] };
          break;
        }
        case 'value':
          if (relationHolds(type.relation, compare(comparator, v, k))) return { hit: true };
          break;
      }
    }
  }
  return { hit: false };
}
