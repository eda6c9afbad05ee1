/**
 * @module node/pop3/commands/dele
 * RFC 1939 §5 DELE msg: marks only. Nothing leaves the store until QUIT
 * enters UPDATE; a dropped connection deletes nothing.
 */
import { ok } from '../respond.js';
import { entry, transaction, type CommandSpec } from '../state.js';

export const dele: CommandSpec<'DELE'> = {
  states: ['transaction'],
  async handle(ctx, cmd) {
    const s = transaction(ctx);
    entry(s, cmd.msg);
    s.deleted.add(cmd.msg);
    await ctx.send(ok(`message ${cmd.msg} deleted`));
  },
};
