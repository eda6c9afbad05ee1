/**
 * @module node/imap/commands/expunge
 * RFC 9051 §6.4.3 EXPUNGE and UID EXPUNGE (RFC 4315 UIDPLUS, in rev2 core):
 * removes \Deleted messages (only those in the UID set for UID EXPUNGE) and
 * reports each as EXPUNGE, or as VANISHED once QRESYNC is enabled.
 */
import { ImapError } from '../errors.js';
import type { Handler } from '../session.js';

export const expunge: Handler<'EXPUNGE' | 'UIDEXPUNGE'> = {
  states: ['selected'],
  async handle(s, cmd) {
    const sel = s.sel;
    if (sel.readOnly) throw new ImapError('NO', 'CANNOT', 'the mailbox is read-only (EXAMINE); SELECT it to expunge');
    const only = cmd.name === 'UIDEXPUNGE' ? sel.resolve(cmd.set, true) : undefined;
    if (only && !only.length) return;
    const { result: gone, durable } = s.port.messages.expungeDeferred(sel.folderId, only, s.id);
    await durable;
    // All of them: one this session has not been told of yet (its EXISTS still pending) must leave that EXISTS too.
    s.expunged(sel, gone);
    // The folder row has HIGHESTMODSEQ; status() would count every message.
    if (s.condstore) return { code: `HIGHESTMODSEQ ${s.port.folders.byId(sel.folderId)!.highestModseq}`, text: 'EXPUNGE completed' };
  },
};
