/**
 * THREAD=REFERENCES (RFC 5256 §4), the pure algorithm: dummies for missing
 * parents kept at the root only when they hold two or more threads, a lone
 * child promoted, a reply merged under the thread with its base subject,
 * two unrelated roots with one subject joined under a dummy, reference loops
 * broken, repeated Message-IDs kept apart, siblings and threads by date.
 */
import { describe, expect, it } from 'vitest';
import { orderedSubject } from '../../node/imap/commands/thread.js';
import { renderThreads, threadReferences, type ThreadMessage } from '../../node/imap/thread-references.js';

function m(n: number, id: string | null, refs: string[], subject: string, opts: { inReplyTo?: string[]; date?: number } = {}): ThreadMessage {
  const isReply = /^re:/i.test(subject);
  return { n, date: opts.date ?? n * 1000, messageId: id, references: refs, inReplyTo: opts.inReplyTo ?? [], baseSubject: subject.replace(/^re:\s*/i, ''), isReply };
}

describe('THREAD=REFERENCES', () => {
  it('builds threads, dummies, subject merges and breaks loops as RFC 5256 §4 says', () => {
    const msgs = [
      m(1, 'a', [], 'Topic'),
      m(2, 'b', ['a'], 'Re: Topic'),
      m(3, 'c', ['a', 'b'], 'Re: Topic'),
      m(4, 'd', ['a'], 'Re: Topic'),
      m(5, 'e', ['missing-m'], 'Other'),
      m(6, 'f', ['missing-m'], 'Re: Other'),
      m(7, 'g', ['missing-z'], 'Lone'),
      m(8, 'h', [], 'Re: Lone'),
      m(9, 'i', [], 'Fresh'),
      m(10, 'j', [], 'Fresh'),
      m(11, 'k', ['l'], 'K1'),
      m(12, 'l', ['k'], 'L1'),
      m(13, 'a', [], 'Dup'),
    ];
    expect(renderThreads(threadReferences(msgs))).toBe('(1 (2 3)(4))((5)(6))(7 8)((9)(10))(12 11)(13)');
  });

  it('uses In-Reply-To when there is no References, and the message own parent over an older guess', () => {
    // 3 claims (through its chain) that 2 is a child of 1; 2 itself says its parent is 4.
    const msgs = [m(1, 'p', [], 'One'), m(3, 'r', ['p', 'q'], 'Re: Two'), m(2, 'q', ['s'], 'Two'), m(4, 's', [], 'Four'), m(5, 't', [], 'Re: Four', { inReplyTo: ['s'] })];
    expect(renderThreads(threadReferences(msgs))).toBe('(1)(4 (2 3)(5))');
  });

  it('orders siblings and threads by date, not by number', () => {
    const msgs = [m(1, 'x', [], 'Root', { date: 5000 }), m(2, 'y', ['x'], 'Re: Root', { date: 9000 }), m(3, 'z', ['x'], 'Re: Root', { date: 7000 }), m(4, 'w', [], 'Early', { date: 1000 })];
    expect(renderThreads(threadReferences(msgs))).toBe('(4)(1 (3)(2))');
  });
});

describe('THREAD=REFERENCES, the letter of RFC 5256 §4', () => {
  it('reproduces the RFC example response (2)(3 6 (4 23)(44 7 96))', () => {
    // §4 shows this response; messages linked so, dated in the order shown, arrive shuffled.
    const at = (n: number) => [2, 3, 6, 4, 23, 44, 7, 96].indexOf(n) * 1000;
    const msgs = [
      m(96, 'i96', ['i3', 'i6', 'i44', 'i7'], 'Re: Thread', { date: at(96) }),
      m(2, 'i2', [], 'Alone', { date: at(2) }),
      m(23, 'i23', ['i3', 'i6', 'i4'], 'Re: Thread', { date: at(23) }),
      m(3, 'i3', [], 'Thread', { date: at(3) }),
      m(44, 'i44', ['i3', 'i6'], 'Re: Thread', { date: at(44) }),
      m(6, 'i6', ['i3'], 'Re: Thread', { date: at(6) }),
      m(4, 'i4', ['i3', 'i6'], 'Re: Thread', { date: at(4) }),
      m(7, 'i7', ['i3', 'i6', 'i44'], 'Re: Thread', { date: at(7) }),
    ];
    expect(renderThreads(threadReferences(msgs))).toBe('(2)(3 6 (4 23)(44 7 96))');
  });

  it('breaks a parent another message guessed, even when the own link would loop: (3 2)(1), not (1 3 2)', () => {
    // Step 1 (A): 2's References "a c" make a the parent of c; (B) c the parent of 2.
    // 3 is c; its References "b" would make 2 its parent, a loop, so that link is not made;
    // but (B) breaks the current link first, so c (message 3) is a root and a (message 1) stands alone.
    const msgs = [m(1, 'a', [], 'One', { date: 3000 }), m(2, 'b', ['a', 'c'], 'Two', { date: 2000 }), m(3, 'c', ['b'], 'Three', { date: 1000 })];
    expect(renderThreads(threadReferences(msgs))).toBe('(3 2)(1)');
  });

  it('follows each reference chain without loops and promotes a lone child of an expunged parent', () => {
    // 2 references "c a": c becomes a's parent, a 2's parent; 3 is c and references 2, a loop not made.
    const all = [m(1, 'a', [], '', { date: 17_000 }), m(2, 'b', ['c', 'a'], '', { date: 15_000 }), m(3, 'c', ['b'], '', { date: 16_000 })];
    expect(renderThreads(threadReferences(all))).toBe('(3 1 2)');
    // Without message a (expunged), its container is a dummy with one child, spliced out (step 4).
    expect(renderThreads(threadReferences(all.slice(1)))).toBe('(3 2)');
  });

  it('sorts the threads again after subject merging (step 7), a dummy dated by its first child', () => {
    // Step 5 order: 1 (Re: X), 2 (Y), then the dummy holding 3 and 4 (X). Step 6 puts 1 under the
    // dummy (the table holds the dummy); the dummy's first child is now 1, the earliest of all.
    const msgs = [
      m(1, 'r1', [], 'Re: X', { date: 1000 }),
      m(2, 'y', [], 'Y', { date: 2000 }),
      m(3, 'x1', ['gone'], 'X', { date: 3000 }),
      m(4, 'x2', ['gone'], 'X', { date: 4000 }),
    ];
    expect(renderThreads(threadReferences(msgs))).toBe('((1)(3)(4))(2)');
  });
});

describe('THREAD=ORDEREDSUBJECT (RFC 5256 §3)', () => {
  it('reproduces the RFC example response', () => {
    // The §3 example; each thread shares a subject, dates rise in the order shown, numbers do not.
    const want =
      '(166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)(182)(188)(184)(185)(186)(187)(189))' +
      '(190)(191)(192)(193)(194 195)(196 (197)(198))(199)(200 202)(201)(203)(204)(205)(206 207)(208)';
    const msgs: ThreadMessage[] = [];
    let date = 0;
    // Top-level groups of the response, found by parenthesis depth.
    const threads: string[] = [];
    let depth = 0;
    for (const ch of want) {
      if (ch === '(' && depth++ === 0) threads.push('');
      else if (ch === ')') depth--;
      else threads[threads.length - 1] += ch;
    }
    for (const thread of threads) {
      const nums = thread.match(/\d+/g)!.map(Number);
      for (const n of nums) msgs.push({ ...m(n, null, [], `Subject ${nums[0]}`), date: (date += 1000) });
    }
    msgs.sort((a, b) => a.n - b.n);
    expect(renderThreads(orderedSubject(msgs))).toBe(want);
  });

  it('groups by base subject under i;ascii-casemap: children of the first message, never grandchildren', () => {
    const msgs = [
      { ...m(1, null, [], 'Re: Lunch'), baseSubject: 'LUNCH', date: 3000 },
      { ...m(2, null, [], 'lunch'), baseSubject: 'LUNCH', date: 1000 },
      { ...m(3, null, [], 'Other'), baseSubject: 'OTHER', date: 2000 },
      { ...m(4, null, [], 'LUNCH'), baseSubject: 'LUNCH', date: 2000 },
    ];
    // Equal dates (3 and 4) go by sequence number (§2.2).
    expect(renderThreads(orderedSubject(msgs))).toBe('(2 (4)(1))(3)');
  });
});
