/**
 * @module node/pop3/commands/rset
 * RFC 1939 §5 RSET: unmarks every message marked deleted in this session.
 */
import { ok } from '../respond.js';
import { transaction, type CommandSpec } from '../state.js';

export const rset: CommandSpec<'RSET'> = {
  states: ['transaction'],
  async handle(ctx) {
    const s = transaction(ctx);
    s.deleted.clear();
    const octets = s.drop.entries.reduce((n, e) => n + e.size, 0);
    await ctx.send(ok(`maildrop has ${s.drop.entries.length} messages (${octets} octets)`));
  },
};
