/**
 * @module node/imap/commands/search
 * RFC 9051 §6.4.4 SEARCH and UID SEARCH, with ESEARCH result options
 * (RFC 4731; the only form for IMAP4rev2 clients), SEARCHRES `$` (RFC 5182)
 * and the MODSEQ key and response (RFC 7162 §3.1.5).
 */
import { qstr } from '../respond.js';
import { SearchEval } from '../search-eval.js';
import type { SearchHit } from '../search-flags.js';
import { formatSet } from '../seqset.js';
import type { Handler, Session } from '../session.js';

/** Sends a result as SEARCH (rev1, no RETURN) or ESEARCH; shared with SORT's result path. */
export function searchResult(s: Session, tag: string, uid: boolean, returns: string[] | null, hits: SearchHit[], modseqKey: boolean): void {
  const sel = s.sel;
  const nums = hits.map((m) => (uid ? m.uid : sel.seqOf(m.uid)));
  const top = hits.reduce((n, m) => Math.max(n, m.modseq), 0);
  if (!returns && !s.rev2) {
    s.untagged(`SEARCH${nums.map((n) => ' ' + n).join('')}${modseqKey && hits.length ? ` (MODSEQ ${top})` : ''}`);
    return;
  }
  const r = returns ?? ['ALL'];
  if (r.includes('SAVE')) sel.saved = hits.map((m) => m.uid);
  if (r.length === 1 && r[0] === 'SAVE') return;
  let line = `ESEARCH (TAG ${qstr(tag)})${uid ? ' UID' : ''}`;
  if (r.includes('MIN') && nums.length) line += ` MIN ${nums[0]}`;
  if (r.includes('MAX') && nums.length) line += ` MAX ${nums[nums.length - 1]}`;
  if (r.includes('ALL') && nums.length) line += ` ALL ${formatSet(nums)}`;
  if (r.includes('COUNT')) line += ` COUNT ${nums.length}`;
  if (modseqKey && hits.length) line += ` MODSEQ ${esearchModseq(r, hits, top)}`;
  s.untagged(line);
}

/**
 * RFC 4731 §3.2 (with RFC 7162 §3.1.5): MIN alone or MAX alone reports the
 * mod-sequence of the message it returns; MIN and MAX without ALL or COUNT,
 * the higher of those two; anything else, the highest of all matches.
 */
function esearchModseq(r: string[], hits: SearchHit[], top: number): number {
  if (r.includes('ALL') || r.includes('COUNT')) return top;
  const min = r.includes('MIN');
  const max = r.includes('MAX');
  if (!min && !max) return top;
  const first = hits[0].modseq;
  const last = hits[hits.length - 1].modseq;
  return min && max ? Math.max(first, last) : min ? first : last;
}

export const search: Handler<'SEARCH'> = {
  states: ['selected'],
  handle(s, cmd) {
    const modseq = SearchEval.usesModseq(cmd.key);
    if (modseq) s.enableCondstore();
    const hits = new SearchEval(s.port, s.sel).run(cmd.key);
    searchResult(s, cmd.tag, !!cmd.uid, cmd.returns, hits, modseq);
  },
};
