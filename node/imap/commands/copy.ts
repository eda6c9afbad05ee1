/**
 * @module node/imap/commands/copy
 * RFC 9051 §6.4.7 COPY and §6.4.8 MOVE (RFC 6851), UID variants, with
 * COPYUID (RFC 4315). MOVE is one store transaction, so a crash leaves each
 * message in exactly one place; its COPYUID goes out untagged before the
 * EXPUNGEs, as RFC 6851 §4.3 shows.
 */
import { ImapError } from '../errors.js';
import { formatList } from '../seqset.js';
import type { Handler } from '../session.js';

export const copy: Handler<'COPY' | 'MOVE'> = {
  states: ['selected'],
  handle(s, cmd) {
    const sel = s.sel;
    if (cmd.name === 'MOVE' && sel.readOnly) throw new ImapError('NO', 'CANNOT', 'the mailbox is read-only (EXAMINE); SELECT it to move messages');
    const uids = sel.resolve(cmd.set, !!cmd.uid);
    const dst = s.port.folders.require(cmd.mailbox);
    if (!uids.length) return { text: `${cmd.name} completed, no messages matched` };
    const r = cmd.name === 'MOVE' ? s.port.messages.move(sel.folderId, uids, dst.id, s.id) : s.port.messages.copy(sel.folderId, uids, dst.id, s.id);
    const code = r.pairs.length ? `COPYUID ${r.uidValidity} ${formatList(r.pairs.map((p) => p[0]))} ${formatList(r.pairs.map((p) => p[1]))}` : undefined;
    if (cmd.name === 'COPY') return { code };
    if (code) s.untagged(`OK [${code}] moved`);
    s.expunged(sel, r.pairs.map((p) => p[0]).filter((u) => sel.seqOf(u) > 0));
    if (dst.id === sel.folderId) s.flush(true);
  },
};
