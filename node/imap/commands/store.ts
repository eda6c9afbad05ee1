/**
 * @module node/imap/commands/store
 * RFC 9051 §6.4.6 STORE and UID STORE, with CONDSTORE's UNCHANGEDSINCE
 * (RFC 7162 §3.1.3): messages changed since the given modseq are left alone
 * and named in [MODIFIED ...]. Each changed message is reported with its
 * new FLAGS (and MODSEQ) unless .SILENT.
 */
import { ImapError } from '../errors.js';
import { formatSet } from '../seqset.js';
import type { Handler } from '../session.js';

export const store: Handler<'STORE'> = {
  states: ['selected'],
  async handle(s, cmd) {
    const sel = s.sel;
    if (sel.readOnly) throw new ImapError('NO', 'CANNOT', 'the mailbox is read-only (EXAMINE); SELECT it to change flags');
    if (cmd.flags.some((f) => f.toLowerCase() === '\\recent' || f === '\\*')) throw new ImapError('BAD', null, '\\Recent and \\* cannot be stored');
    if (cmd.unchangedSince !== null) s.enableCondstore();
    const uids = sel.resolve(cmd.set, !!cmd.uid);
    // The commit is fsynced off the event loop, so other sessions go on meanwhile; answered once durable.
    const { result: res, durable } = s.port.messages.storeFlagsDeferred(sel.folderId, uids, cmd.mode, cmd.flags, {
      unchangedSince: cmd.unchangedSince ?? undefined,
      origin: s.id,
    });
    await durable;
    // A keyword this STORE brought into use is announced now, .SILENT or not (RFC 9051 §7.3.5).
    if (cmd.mode !== 'remove' && res.updated.length) s.announceKeywords(sel, cmd.flags);
    if (!cmd.silent || s.condstore) {
      for (const m of res.updated) {
        const seq = sel.seqOf(m.uid);
        if (!seq) continue;
        if (!cmd.silent) s.announceKeywords(sel, m.flags);
        const flags = cmd.silent ? '' : ` FLAGS ${s.flagsOf(sel, m.uid, m.flags)}`;
        s.untagged(`${seq} FETCH (UID ${m.uid}${flags}${s.condstore ? ` MODSEQ (${m.modseq})` : ''})`);
      }
    }
    if (res.failed.length) {
      const set = cmd.uid ? res.failed : res.failed.map((u) => sel.seqOf(u)).filter((n) => n > 0);
      return { code: `MODIFIED ${formatSet(set)}`, text: 'some messages changed since UNCHANGEDSINCE; fetch them and retry' };
    }
  },
};
