/**
 * @module node/imap/commands/append
 * RFC 9051 §6.3.12 APPEND with MULTIAPPEND (RFC 3502: all or nothing),
 * APPENDUID (RFC 4315), APPENDLIMIT (RFC 7889) and UTF8 (RFC 6855). OK is
 * sent only after the store's transaction is durable.
 */
import { ImapError } from '../errors.js';
import { formatList } from '../seqset.js';
import type { Handler } from '../session.js';

export const append: Handler<'APPEND'> = {
  states: ['auth', 'selected'],
  async handle(s, cmd) {
    const f = s.port.folders.require(cmd.mailbox);
    for (const m of cmd.messages) {
      if (m.data.length > s.ctx.limits.appendLimit)
        throw new ImapError('NO', 'TOOBIG', `the message is ${m.data.length} bytes; this server takes up to ${s.ctx.limits.appendLimit}`);
      if (m.data.length === 0) throw new ImapError('NO', 'CANNOT', 'an empty message cannot be appended');
      if (m.flags.some((fl) => fl.toLowerCase() === '\\recent')) throw new ImapError('BAD', null, '\\Recent cannot be set');
      if (m.utf8 && !s.utf8) throw new ImapError('BAD', null, 'APPEND UTF8 needs ENABLE UTF8=ACCEPT first (RFC 6855)');
    }
    // Committed now, fsynced off the event loop (many sessions share a flush); OK only once durable.
    const { results: res, durable } = s.port.messages.appendManyDeferred(
      f.id,
      cmd.messages.map((m) => ({ raw: m.data, flags: m.flags, internalDate: m.date ?? undefined })),
      s.id,
    );
    await durable;
    return { code: `APPENDUID ${res[0].uidValidity} ${formatList(res.map((r) => r.uid))}`, text: 'APPEND completed' };
  },
};
