/**
 * @module node/imap/commands/thread
 * RFC 5256 §3 THREAD over the search result: ORDEREDSUBJECT groups by base
 * subject, the earliest message the parent of the rest (children, never
 * grandchildren), threads by the date of their first message; REFERENCES is
 * the whole §4 algorithm in ../thread-references.ts. Dates are sent dates,
 * the internal date when the Date header is missing or unreadable (§2.2);
 * equal dates go by sequence number.
 */
import type { ParsedMessage } from '../../mime/index.js';
import { SearchEval } from '../search-eval.js';
import type { Handler } from '../session.js';
import { subjectKey } from '../sort-keys.js';
import { renderThreads, threadReferences, type ThreadMessage, type ThreadNode } from '../thread-references.js';

type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;

const byDate = (a: ThreadMessage, b: ThreadMessage) => a.date - b.date || a.n - b.n;

/** RFC 5256 §3 ORDEREDSUBJECT. */
export function orderedSubject(messages: ThreadMessage[]): ThreadNode[] {
  const groups = new Map<string, ThreadMessage[]>();
  for (const m of messages) {
    const g = groups.get(m.baseSubject);
    if (g) g.push(m);
    else groups.set(m.baseSubject, [m]);
  }
  const threads = [...groups.values()].map((g) => g.sort(byDate));
  threads.sort((a, b) => byDate(a[0], b[0]));
  return threads.map(([first, ...rest]) => ({ msg: first, kids: rest.map((m) => ({ msg: m, kids: [] })) }));
}

export const thread: Handler<'THREAD'> = {
  states: ['selected'],
  handle(s, cmd) {
    const sel = s.sel;
    const want = new Set(new SearchEval(s.port, sel).run(cmd.key).map((m) => m.uid));
    const messages: ThreadMessage[] = s.port.search
      .sortFields(sel.folderId)
      .filter((r) => want.has(r.uid))
      .map((r) => {
        const p = JSON.parse(r.parsed) as Stored;
        const subject = subjectKey(p.envelope);
        return {
          // Ties go by sequence number (§2.2) even for UID THREAD; UIDs ascend with it.
          n: cmd.uid ? r.uid : sel.seqOf(r.uid),
          date: r.sentAt ?? r.internalDate,
          messageId: p.messageId,
          references: p.references ?? [],
          inReplyTo: p.inReplyTo ?? [],
          baseSubject: subject.base,
          isReply: subject.refwd,
        };
      });
    const roots = cmd.algorithm === 'ORDEREDSUBJECT' ? orderedSubject(messages) : threadReferences(messages);
    s.untagged(`THREAD ${renderThreads(roots)}`);
  },
};
