/**
 * @module node/imap/thread-references
 * RFC 5256 §4 THREAD=REFERENCES, whole: containers for every message id
 * (dummies for the ones not in the result), links from References (or
 * In-Reply-To) without loops, the message's own parent winning (1); the
 * root set (2); dummy pruning (4); root sort (5); merging of roots that share
 * a base subject (6); sibling sort at every level, threads too (7). Pure:
 * messages in, a tree out.
 */

export interface ThreadMessage {
  /** Sequence number or UID, as the client asked. */
  n: number;
  /** Sent date (Date header), or the internal date when it has none (RFC 5256 §2.2). */
  date: number;
  messageId: string | null;
  references: string[];
  inReplyTo: string[];
  /** RFC 5256 §2.1 base subject, casemapped (i;ascii-casemap) so equal subjects compare equal. */
  baseSubject: string;
  /** Whether base subject extraction removed a reply or forward marker (§4 step 6). */
  isReply: boolean;
}

export interface ThreadNode {
  /** null for a dummy (a message not in the result that holds a thread together). */
  msg: ThreadMessage | null;
  kids: ThreadNode[];
}

interface Container extends ThreadNode {
  msg: ThreadMessage | null;
  parent: Container | null;
  kids: Container[];
}

const container = (msg: ThreadMessage | null = null): Container => ({ msg, parent: null, kids: [] });

function isAncestor(a: Container, of: Container): boolean {
  for (let p: Container | null = of; p; p = p.parent) if (p === a) return true;
  return false;
}

function unlink(c: Container): void {
  if (!c.parent) return;
  c.parent.kids = c.parent.kids.filter((k) => k !== c);
  c.parent = null;
}

function link(parent: Container, child: Container): void {
  unlink(child);
  child.parent = parent;
  parent.kids.push(child);
}

/** A node's sort date: its own, or for a dummy its first child's (children sorted first). */
function dateOf(c: ThreadNode): [number, number] {
  if (c.msg) return [c.msg.date, c.msg.n];
  return c.kids.length ? dateOf(c.kids[0]) : [0, 0];
}

function byDate(a: ThreadNode, b: ThreadNode): number {
  const [da, na] = dateOf(a);
  const [db, nb] = dateOf(b);
  return da - db || na - nb;
}

function sortKids(c: ThreadNode): void {
  for (const k of c.kids) sortKids(k);
  c.kids.sort(byDate);
}

/** Step 4: a childless dummy goes; a dummy's children take its place, except two or more at the root. */
function prune(kids: Container[], atRoot: boolean, parent: Container | null): Container[] {
  const out: Container[] = [];
  for (const c of kids) {
    c.kids = prune(c.kids, false, c);
    if (c.msg) out.push(c);
    else if (c.kids.length === 0) continue;
    else if (atRoot && c.kids.length > 1) out.push(c);
    else
      for (const k of c.kids) {
        k.parent = parent;
        out.push(k);
      }
  }
  return out;
}

export function threadReferences(messages: ThreadMessage[]): ThreadNode[] {
  // (1) Containers by message id; a missing or repeated id gets a container of its own.
  const byId = new Map<string, Container>();
  const all: Container[] = [];
  for (const m of messages) {
    let c = m.messageId ? byId.get(m.messageId) : undefined;
    if (c && !c.msg) c.msg = m;
    else {
      c = container(m);
      if (m.messageId && !byId.has(m.messageId)) byId.set(m.messageId, c);
    }
    all.push(c);
    const refs = m.references.length ? m.references : m.inReplyTo.slice(0, 1);
    const chain = refs.map((id) => {
      let r = byId.get(id);
      if (!r) byId.set(id, (r = container()));
      return r;
    });
    // (A) Each reference is the parent of the next, unless already linked or that would make a loop.
    for (let i = 0; i + 1 < chain.length; i++) {
      const [p, k] = [chain[i], chain[i + 1]];
      if (p === k || k.parent || isAncestor(k, p)) continue;
      link(p, k);
    }
    // (B) The last reference is this message's parent. A parent an earlier message's References
    // gave it (a truncated chain) is broken first, even when the new link would make a loop and
    // is not made: the RFC's "if this message has no references, it will now have no parent".
    const last = chain.at(-1);
    unlink(c);
    if (last && last !== c && !isAncestor(c, last)) link(last, c);
  }
  // (2) The root set; (4) pruned; (5) sorted.
  const roots = new Set<Container>();
  for (const c of [...byId.values(), ...all]) {
    let r = c;
    while (r.parent) r = r.parent;
    roots.add(r);
  }
  let root = prune([...roots], true, null);
  for (const c of root) sortKids(c);
  root.sort(byDate);
  // (6) Roots with the same base subject become one thread.
  const subjectOf = (c: Container) => (c.msg ?? c.kids[0]?.msg)?.baseSubject ?? '';
  const replyOf = (c: Container) => !!(c.msg ?? c.kids[0]?.msg)?.isReply;
  const table = new Map<string, Container>();
  for (const c of root) {
    const s = subjectOf(c);
    if (!s) continue;
    const t = table.get(s);
    if (!t || (!c.msg && t.msg) || (t.msg && replyOf(t) && c.msg && !replyOf(c))) table.set(s, c);
  }
  const merged: Container[] = [];
  for (const c of root) {
    const s = subjectOf(c);
    const t = s ? table.get(s) : undefined;
    if (!t || t === c) {
      merged.push(c);
      continue;
    }
    if (!t.msg && !c.msg) for (const k of [...c.kids]) link(t, k);
    else if (!t.msg) link(t, c);
    else if (replyOf(c) && !replyOf(t)) link(t, c);
    else {
      // Neither is a reply of the other: a new dummy holds both where the table's entry stood.
      const d = container();
      const at = merged.indexOf(t);
      link(d, t);
      link(d, c);
      table.set(s, d);
      if (at >= 0) merged[at] = d;
      else merged.push(d);
    }
  }
  // (7) Each set of siblings by date, the threads themselves included (a dummy dated by its first child).
  const result = merged.filter((c) => !c.parent);
  for (const c of result) sortKids(c);
  return result.sort(byDate);
}

/** RFC 5256 §4 response syntax: "(1 2 (3)(4))", a dummy as "((3)(5))". */
export function renderThreads(roots: ThreadNode[]): string {
  const render = (c: ThreadNode): string => {
    const kids = c.kids.length === 1 && c.msg ? ' ' + render(c.kids[0]) : c.kids.map((k) => '(' + render(k) + ')').join('');
    if (!c.msg) return kids;
    return String(c.msg.n) + (c.kids.length > 1 ? ' ' + kids : kids);
  };
  return roots.map((r) => '(' + render(r) + ')').join('');
}
