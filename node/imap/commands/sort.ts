/**
 * @module node/imap/commands/sort
 * RFC 5256 §3 SORT (and SORT=DISPLAY, RFC 5957): keys from the fields stored
 * at delivery (base subject, first addresses, Date header), ties broken by
 * sequence order as the RFC requires.
 */
import type { ParsedMessage } from '../../mime/index.js';
import { SearchEval } from '../search-eval.js';
import type { Handler } from '../session.js';

type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;

export const sort: Handler<'SORT'> = {
  states: ['selected'],
  handle(s, cmd) {
    const sel = s.sel;
    const hits = new SearchEval(s.port, sel).run(cmd.key);
    const want = new Set(hits.map((m) => m.uid));
    const rows = s.port.search.sortFields(sel.folderId).filter((r) => want.has(r.uid));
    const parsed = new Map<number, Stored>(rows.map((r) => [r.uid, JSON.parse(r.parsed) as Stored]));
    const key = (k: string, r: (typeof rows)[number]): string | number => {
      const p = parsed.get(r.uid)!;
      switch (k) {
        case 'ARRIVAL': return r.internalDate;
        case 'DATE': return r.sentAt ?? r.internalDate;
        case 'SIZE': return r.size;
        case 'SUBJECT': return p.baseSubject ?? '';
        case 'FROM': return p.sortFrom ?? '';
        case 'TO': return p.sortTo ?? '';
        case 'CC': return p.sortCc ?? '';
        case 'DISPLAYFROM': return (p.displayFrom || p.sortFrom || '').toLowerCase();
        default: return (p.displayTo || p.sortTo || '').toLowerCase();
      }
    };
    rows.sort((a, b) => {
      for (const c of cmd.criteria) {
        const x = key(c.key, a);
        const y = key(c.key, b);
        const d = typeof x === 'number' ? x - (y as number) : x < y ? -1 : x > y ? 1 : 0;
        if (d) return c.reverse ? -d : d;
      }
      return a.uid - b.uid;
    });
    s.untagged(`SORT${rows.map((r) => ' ' + (cmd.uid ? r.uid : sel.seqOf(r.uid))).join('')}`);
  },
};
