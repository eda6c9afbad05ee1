/**
 * @module node/imap/commands/sort
 * RFC 5256 §3 SORT and RFC 5957 SORT=DISPLAY over the search result: keys
 * from the stored envelope (sort-keys.ts), each REVERSE turning only the key
 * it precedes, and ties that survive every key broken by sequence number
 * (§3: "ordered by sequence number"), never reversed.
 */
import type { ParsedMessage } from '../../mime/index.js';
import { SearchEval } from '../search-eval.js';
import type { Handler } from '../session.js';
import { compareKeys, displayKey, mailboxKey, subjectKey } from '../sort-keys.js';

type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;

export const sort: Handler<'SORT'> = {
  states: ['selected'],
  handle(s, cmd) {
    const sel = s.sel;
    const hits = new SearchEval(s.port, sel).run(cmd.key);
    const want = new Set(hits.map((m) => m.uid));
    const rows = s.port.search.sortFields(sel.folderId).filter((r) => want.has(r.uid));
    const keys = rows.map((r) => {
      const e = (JSON.parse(r.parsed) as Stored).envelope;
      return cmd.criteria.map((c): string | number => {
        switch (c.key) {
          case 'ARRIVAL': return r.internalDate;
          // §2.2: the Date header adjusted to UTC; the internal date when there is none or it cannot be read.
          case 'DATE': return r.sentAt ?? r.internalDate;
          case 'SIZE': return r.size;
          case 'SUBJECT': return subjectKey(e).base;
          case 'FROM': return mailboxKey(e.from);
          case 'TO': return mailboxKey(e.to);
          case 'CC': return mailboxKey(e.cc);
          case 'DISPLAYFROM': return displayKey(e.from);
          default: return displayKey(e.to);
        }
      });
    });
    const order = rows.map((_, i) => i);
    order.sort((a, b) => {
      for (let k = 0; k < cmd.criteria.length; k++) {
        const d = compareKeys(keys[a][k], keys[b][k]);
        if (d) return cmd.criteria[k].reverse ? -d : d;
      }
      return rows[a].uid - rows[b].uid;
    });
    s.untagged(`SORT${order.map((i) => ' ' + (cmd.uid ? rows[i].uid : sel.seqOf(rows[i].uid))).join('')}`);
  },
};
