/**
 * @module node/pop3/commands/list
 * RFC 1939 §5 LIST [msg]: a scan listing "n octets" for one message, or a
 * multi-line listing of every message not marked deleted.
 */
import { multiline, ok } from '../respond.js';
import { entry, transaction, type CommandSpec } from '../state.js';

export const list: CommandSpec<'LIST'> = {
  states: ['transaction'],
  async handle(ctx, cmd) {
    const s = transaction(ctx);
    if (cmd.msg !== null) {
      await ctx.send(ok(`${cmd.msg} ${entry(s, cmd.msg).size}`));
      return;
    }
    const lines: string[] = [];
    s.drop.entries.forEach((e, i) => {
      if (!s.deleted.has(i + 1)) lines.push(`${i + 1} ${e.size}`);
    });
    await ctx.send(multiline(`${lines.length} messages`, lines));
  },
};
