/**
 * @module node/imap/seqset
 * Sequence sets (RFC 9051 §9 `sequence-set`): parsing, and resolving against
 * a mailbox view where `*` means the largest number in use. `$` (SEARCHRES,
 * RFC 5182) is carried as its own kind and resolved by the session.
 */
export const STAR = -1;

export type SeqSet = { kind: 'set'; ranges: [number, number][] } | { kind: 'saved' };

/** Parses `1,3:5,7:*`; null when malformed (the caller answers BAD). */
export function parseSeqSet(s: string): SeqSet | null {
  if (s === '$') return { kind: 'saved' };
  const ranges: [number, number][] = [];
  for (const item of s.split(',')) {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(item);
    if (!m) return null;
    const a = m[1] === '*' ? STAR : Number(m[1]);
    const b = m[2] === undefined ? a : m[2] === '*' ? STAR : Number(m[2]);
    if (a === 0 || b === 0 || a > 0xffffffff || b > 0xffffffff) return null;
    ranges.push([a, b]);
  }
  return ranges.length ? { kind: 'set', ranges } : null;
}

/** Normalized inclusive ranges with `*` replaced by `max`, sorted and merged. */
export function resolveRanges(ranges: [number, number][], max: number): [number, number][] {
  const r = ranges
    .map(([a, b]): [number, number] => {
      const x = a === STAR ? max : a;
      const y = b === STAR ? max : b;
      return x <= y ? [x, y] : [y, x];
    })
    .sort((p, q) => p[0] - q[0]);
  const out: [number, number][] = [];
  for (const [a, b] of r) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function inRanges(ranges: [number, number][], n: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (n < ranges[mid][0]) hi = mid - 1;
    else if (n > ranges[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Compact `1:3,5` form of a sorted list of numbers (for COPYUID, VANISHED, ESEARCH ALL). */
export function formatSet(nums: readonly number[]): string {
  const sorted = [...nums].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** Pairs in their given order (COPYUID keeps source and destination aligned). */
export function formatList(nums: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++;
    out.push(i === j ? String(nums[i]) : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
