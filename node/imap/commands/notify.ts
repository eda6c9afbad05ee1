/**
 * @module node/imap/commands/notify
 * RFC 5465 NOTIFY: SET replaces what the session is told about unasked
 * (§3.1), with STATUS for every watched mailbox first when asked; NONE
 * turns it all off (§3.2). Unsupported events get NO [BADEVENT] and leave
 * the earlier setting in place.
 */
import { Notifier, validateGroups } from '../notify.js';
import type { Handler } from '../session.js';

export const notify: Handler<'NOTIFY'> = {
  states: ['auth', 'selected'],
  handle(s, cmd) {
    if (!cmd.set) {
      s.notifier = null;
      return;
    }
    validateGroups(cmd.set.groups);
    s.notifier = new Notifier(s.port, cmd.set.groups, (name) => s.wireName(name));
    if (cmd.set.status) s.notifier.initialStatus(s.state.kind === 'selected' ? s.sel.folderId : null);
  },
};
