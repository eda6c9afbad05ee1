/**
 * @module node/imap/commands/select
 * RFC 9051 §6.3.2 SELECT and §6.3.3 EXAMINE, with CONDSTORE (RFC 7162 §3.1.8)
 * and QRESYNC (§3.2.5): after the usual responses, a QRESYNC client whose
 * UIDVALIDITY still holds is told what vanished and what changed since its
 * modseq, so it resyncs without refetching the mailbox.
 */
import { ImapError } from '../errors.js';
import { Selected } from '../selected.js';
import { formatSet, inRanges, resolveRanges } from '../seqset.js';
import type { Handler } from '../session.js';

export const select: Handler<'SELECT' | 'EXAMINE'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    if (cmd.qresync && !s.enabled.has('QRESYNC')) throw new ImapError('BAD', null, 'ENABLE QRESYNC before using it');
    if (s.state.kind === 'selected') {
      s.select(null);
      s.untagged('OK [CLOSED] previous mailbox closed');
    }
    const f = s.port.folders.require(cmd.mailbox);
    if (cmd.condstore) s.condstore = true;
    // The folder row carries UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ; counting (status) would scan every message.
    const st = f;
    const readOnly = cmd.name === 'EXAMINE';
    const sel = new Selected(f.id, f.name, readOnly, st.uidValidity, s.port.messages.uidArray(f.id));
    s.untagged(`${sel.count} EXISTS`);
    if (!s.rev2) {
      // RFC 3501 §6.3.1: the messages that arrived since any session last saw the mailbox are recent for this one.
      s.takeRecent(sel, 1, st.uidNext);
      s.untagged(`${sel.recentCount} RECENT`);
    }
    // Every keyword in use goes into FLAGS now (RFC 9051 §7.3.5); later ones are announced as they appear.
    sel.learnFolderKeywords(s.port.messages.flagLookup(f.id).keywordNames());
    s.sendFlags(sel);
    s.untagged(`OK [UIDVALIDITY ${st.uidValidity}] UIDs valid`);
    s.untagged(`OK [UIDNEXT ${st.uidNext}] predicted next UID`);
    s.untagged(`OK [HIGHESTMODSEQ ${st.highestModseq}] highest`);
    if (s.rev2) s.untagged('LIST () "/" ', ...s.wireName(f.name));
    s.select(sel);
    const q = cmd.qresync;
    if (q && q.uidValidity === st.uidValidity) {
      const known = q.knownUids?.kind === 'set' ? resolveRanges(q.knownUids.ranges, sel.lastUid) : null;
      const vanished = s.port.messages.expungedSince(f.id, q.modseq).filter((u) => !known || inRanges(known, u));
      if (vanished.length) s.untagged(`VANISHED (EARLIER) ${formatSet(vanished)}`);
      for (const m of s.port.messages.changedSince(f.id, q.modseq)) {
        const seq = sel.seqOf(m.uid);
        if (seq) s.untagged(`${seq} FETCH (UID ${m.uid} FLAGS ${s.flagsOf(sel, m.uid, m.flags)} MODSEQ (${m.modseq}))`);
      }
    }
    return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: `${cmd.name} completed` };
  },
};

/** RFC 9051 §6.4.1 CLOSE (expunges silently unless read-only) and RFC 3691 UNSELECT (never expunges). */
export const close: Handler<'CLOSE' | 'UNSELECT'> = {
  states: ['selected'],
  handle(s, cmd) {
    const sel = s.sel;
    if (cmd.name === 'CLOSE' && !sel.readOnly) s.port.messages.expunge(sel.folderId, undefined, s.id);
    s.select(null);
  },
};
