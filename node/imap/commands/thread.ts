/**
 * @module node/imap/commands/thread
 * RFC 5256 §3 THREAD: ORDEREDSUBJECT groups by base subject, parent first;
 * REFERENCES links each message to its nearest referenced ancestor present
 * in the result (steps 1-4 of the RFC algorithm; the subject merge of step 5
 * is not done). Threads and siblings are ordered by sent date.
 */
import type { ParsedMessage } from '../../mime/index.js';
import { SearchEval } from '../search-eval.js';
import type { Handler } from '../session.js';

type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;
interface Node { n: number; date: number; kids: Node[] }

function render(node: Node): string {
  let out = String(node.n);
  let cur = node;
  while (cur.kids.length === 1) {
    cur = cur.kids[0];
    out += ' ' + cur.n;
  }
  if (cur.kids.length > 1) out += ' ' + cur.kids.map((k) => '(' + render(k) + ')').join('');
  return out;
}

export const thread: Handler<'THREAD'> = {
  states: ['selected'],
  handle(s, cmd) {
    const sel = s.sel;
    const want = new Set(new SearchEval(s.port, sel).run(cmd.key).map((m) => m.uid));
    const rows = s.port.search.sortFields(sel.folderId).filter((r) => want.has(r.uid));
    const nodes = rows.map((r) => ({ r, p: JSON.parse(r.parsed) as Stored, node: { n: cmd.uid ? r.uid : sel.seqOf(r.uid), date: r.sentAt ?? r.internalDate, kids: [] } as Node }));
    const byDate = (a: Node, b: Node) => a.date - b.date || a.n - b.n;
    const roots: Node[] = [];
    if (cmd.algorithm === 'ORDEREDSUBJECT') {
      const groups = new Map<string, Node[]>();
      for (const x of nodes) groups.set(x.p.baseSubject ?? '', [...(groups.get(x.p.baseSubject ?? '') ?? []), x.node]);
      for (const g of groups.values()) {
        g.sort(byDate);
        roots.push({ ...g[0], kids: g.slice(1) });
      }
    } else {
      const byId = new Map<string, Node>();
      for (const x of nodes) if (x.p.messageId && !byId.has(x.p.messageId)) byId.set(x.p.messageId, x.node);
      for (const x of nodes) {
        const refs = [...(x.p.references ?? []), ...(x.p.inReplyTo ?? [])];
        const parent = refs.reverse().map((id) => byId.get(id)).find((p) => p && p !== x.node);
        (parent ? parent.kids : roots).push(x.node);
      }
      for (const x of nodes) x.node.kids.sort(byDate);
    }
    roots.sort(byDate);
    s.untagged(`THREAD ${roots.map((r) => '(' + render(r) + ')').join('')}`);
  },
};
