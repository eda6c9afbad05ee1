/**
 * The selected-mailbox view alone: UID sets resolve by bisection to the
 * UIDs present (gaps, `*`, overlapping and reversed ranges), and expunges
 * come back as sequence numbers highest first, whether a few leave a large
 * view (found one by one) or many leave a small one (one pass).
 */
import { describe, expect, it } from 'vitest';
import { Selected } from '../../node/imap/selected.js';
import { parseSeqSet } from '../../node/imap/seqset.js';

/** UIDs 1..n*2-1, odd only: every even UID is a gap. */
const view = (n: number) => new Selected(1, 'INBOX', false, 7, Array.from({ length: n }, (_, i) => i * 2 + 1));

describe('Selected', () => {
  it('resolves UID sets to the UIDs present, ascending, without duplicates', () => {
    const s = view(1000);
    expect(s.resolve(parseSeqSet('4:9')!, true)).toEqual([5, 7, 9]);
    expect(s.resolve(parseSeqSet('1995:*')!, true)).toEqual([1995, 1997, 1999]);
    expect(s.resolve(parseSeqSet('9:4,7:11,2')!, true)).toEqual([5, 7, 9, 11]);
    expect(s.resolve(parseSeqSet('5000:6000')!, true)).toEqual([]);
    expect(s.resolve(parseSeqSet('5000:*')!, true)).toEqual([1999]); // n:* past the end still names the last (RFC 9051 §6.4.8)
    expect(s.resolve(parseSeqSet('2')!, true)).toEqual([]);
    expect(s.resolve(parseSeqSet('3:4')!, false)).toEqual([5, 7]);
  });

  it('removes a few UIDs from a large view, reporting sequence numbers highest first', () => {
    const s = view(1000);
    expect(s.remove([3, 1999, 1001, 4])).toEqual([1000, 501, 2]);
    expect(s.uids).toHaveLength(997);
    expect(s.seqOf(1)).toBe(1);
    expect(s.seqOf(5)).toBe(2);
    expect(s.seqOf(1003)).toBe(500);
    expect(s.uids.at(-1)).toBe(1997);
  });

  it('removes many UIDs from a small view in one pass, with the same answer', () => {
    const s = view(10);
    expect(s.remove([3, 19, 11, 4])).toEqual([10, 6, 2]);
    expect([...s.uids]).toEqual([1, 5, 7, 9, 13, 15, 17]);
  });

  it('grows as new mail is announced and stays ordered through removals', () => {
    const s = view(3); // 1 3 5, no spare room
    s.append([7, 8]);
    s.append(Array.from({ length: 100 }, (_, i) => 100 + i));
    expect(s.count).toBe(105);
    expect(s.lastUid).toBe(199);
    expect(s.seqOf(8)).toBe(5);
    expect(s.seqOf(150)).toBe(56);
    expect(s.remove([8, 150, 1])).toEqual([56, 5, 1]);
    expect([...s.uids.subarray(0, 4)]).toEqual([3, 5, 7, 100]);
    expect(s.seqOf(151)).toBe(54);
    expect(s.resolve(parseSeqSet('149:151')!, true)).toEqual([149, 151]);
    expect(s.resolve(parseSeqSet('*')!, false)).toEqual([199]);
  });

  it('drops a removed UID still waiting to be announced, so no EXISTS counts it (RFC 9051 §7.4.1)', () => {
    const s = view(3);
    s.pendingNew.push(7, 9, 11);
    s.pendingFlags.add(9);
    expect(s.remove([9, 3])).toEqual([2]);
    expect(s.pendingNew).toEqual([7, 11]);
    expect(s.pendingFlags.size).toBe(0);
    expect([...s.uids]).toEqual([1, 5]);
  });
});
