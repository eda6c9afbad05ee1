/**
 * THREAD=REFERENCES (RFC 5256 §4), the pure algorithm: dummies for missing
 * parents kept at the root only when they hold two or more threads, a lone
 * child promoted, a reply merged under the thread with its base subject,
 * two unrelated roots with one subject joined under a dummy, reference loops
 * broken, repeated Message-IDs kept apart, siblings and threads by date.
 */
import { describe, expect, it } from 'vitest';
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
