/**
 * @module node/pop3/commands/uidl
 * RFC 1939 §7 UIDL [msg]: unique-id listing. Ids come from the folder's
 * UIDVALIDITY and the message UID, so they hold across sessions, restarts
 * and restores (see store-maildrop.ts).
 */
import { multiline, ok } from '../respond.js';
import { entry, transaction, type CommandSpec } from '../state.js';

export const uidl: CommandSpec<'UIDL'> = {
  states: ['transaction'],
  async handle(ctx, cmd) {
    const s = transaction(ctx);
    if (cmd.msg !== null) {
      await ctx.send(ok(`${cmd.msg} ${entry(s, cmd.msg).uidl}`));
      return;
    }
    const lines: string[] = [];
    s.drop.entries.forEach((e, i) => {
      if (!s.deleted.has(i + 1)) lines.push(`${i + 1} ${e.uidl}`);
    });
    await ctx.send(multiline('unique-id listing follows', lines));
  },
};
