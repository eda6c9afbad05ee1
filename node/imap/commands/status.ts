/**
 * @module node/imap/commands/status
 * RFC 9051 §6.3.11 STATUS, with SIZE and DELETED (RFC 8438, rev2),
 * HIGHESTMODSEQ (RFC 7162) and APPENDLIMIT (RFC 7889). The response items
 * are shared with LIST-STATUS (RFC 5819). STATUS on the selected mailbox is
 * allowed and answered from the store, which the view never runs ahead of.
 */
import type { Folder } from '../port.js';
import { toBuffer } from '../respond.js';
import type { Handler, Session } from '../session.js';

export function statusLine(s: Session, f: Folder, items: string[]): Buffer {
  const st = s.port.folders.status(f.id);
  const out = items.map((it) => {
    switch (it) {
      case 'MESSAGES': return `MESSAGES ${st.messages}`;
      case 'UIDNEXT': return `UIDNEXT ${st.uidNext}`;
      case 'UIDVALIDITY': return `UIDVALIDITY ${st.uidValidity}`;
      case 'UNSEEN': return `UNSEEN ${st.unseen}`;
      case 'DELETED': return `DELETED ${st.deleted}`;
      case 'SIZE': return `SIZE ${st.size}`;
      case 'RECENT': return `RECENT ${s.recentStatus(f.id)}`;
      case 'APPENDLIMIT': return `APPENDLIMIT ${s.ctx.limits.appendLimit}`;
      default:
        s.enableCondstore();
        return `HIGHESTMODSEQ ${st.highestModseq}`;
    }
  });
  return toBuffer(['* STATUS ', ...s.wireName(f.name), ` (${out.join(' ')})\r\n`]);
}

export const status: Handler<'STATUS'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    const f = s.port.folders.require(cmd.mailbox);
    s.io.write(statusLine(s, f, cmd.items));
  },
};
